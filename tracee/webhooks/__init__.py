"""Webhooks: endpoints, their signing secrets, the delivery queue and the SSRF guard.

Events come from the tracker's audit trail (``tracker_events``): a database
trigger queues one delivery per subscribed endpoint in the same transaction
as the change, so nothing is sent from a request and nothing can be lost.
``tracee worker`` (tracee/worker.py) sends them.
"""


def includeme(config):
    from tracee.webhooks.config import WebhookSettings
    from tracee.webhooks.signing_secrets import SecretBox

    settings = WebhookSettings.from_settings(config.get_settings())
    config.registry["webhooks.settings"] = settings
    box = SecretBox(settings.secret_keys)
    config.registry["webhooks.box"] = box
    # Stored Idempotency-Key answers that show a secret, and two-factor
    # secrets (tracee.accounts.two_factor), are sealed with the same keys.
    config.registry["idempotency.sealer"] = box
    config.registry["two_factor.sealer"] = box
