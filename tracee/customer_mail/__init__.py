"""Customer mail: "Email me updates" on the tracking page.

A customer (or the shop, through the API) subscribes an address to one
tracker; after a double opt-in (the confirmation link, unless the shop says
the address is confirmed) the worker mails the tracker's news, branded with
the tenant's theme and in the subscriber's language, from the event outbox:
a trigger on ``tracker_events`` queues a job in the change's own
transaction (see alembic 0010 and sending.py). Every mail can be ended with
one click (RFC 8058).
"""

from dataclasses import dataclass

from tracee.customer_mail.config import CustomerMailSettings
from tracee.form_tokens import FormTokens


@dataclass(frozen=True, slots=True)
class SubscriptionForm:
    action: str
    token: str


def subscription_form(request) -> SubscriptionForm:
    """What the tracking page's form needs: its address and a fresh form token.
    Computed, not read: the page gets no query for it."""
    tracking_token = request.context.__name__  # the token as text (TrackerResource)
    return SubscriptionForm(
        f"{request.script_name}/track/{tracking_token}/subscribe",
        request.registry["customer_mail.form_tokens"].issue(tracking_token))


def includeme(config):
    settings = CustomerMailSettings.from_settings(config.get_settings())
    config.registry["customer_mail.settings"] = settings
    config.registry["customer_mail.form_tokens"] = FormTokens(
        settings.secret, "subscribe", settings.form_seconds)
    config.add_request_method(subscription_form, "subscription_form", reify=True)
