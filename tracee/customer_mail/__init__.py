"""Customer mail: "Email me updates" on the tracking page.

A customer (or the shop, through the API) subscribes an address to one
tracker; after a double opt-in (the confirmation link, unless the shop says
the address is confirmed) the worker mails the tracker's news, branded with
the tenant's theme and in the subscriber's language, from the event outbox:
a trigger on ``tracker_events`` queues a job in the change's own
transaction (see alembic 0007 and sending.py). Every mail can be ended with
one click (RFC 8058).
"""

from tracee.customer_mail import form_token
from tracee.customer_mail.config import CustomerMailSettings


def subscription_form(request) -> dict:
    """What the tracking page's form needs: its address and a fresh form token.
    Computed, not read: the page gets no query for it."""
    settings = request.registry["customer_mail.settings"]
    tracking_token = request.context.tracker.tracking_token
    return {
        "action": f"{request.script_name}/track/{tracking_token}/subscribe",
        "token": form_token.make(settings.secret, tracking_token),
    }


def includeme(config):
    config.registry["customer_mail.settings"] = CustomerMailSettings.from_settings(
        config.get_settings())
    config.add_request_method(subscription_form, "subscription_form", reify=True)
