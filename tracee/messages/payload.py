"""The ``message`` of a ``tracker.message_received`` webhook.

The customer's address is not sent, only whether one was given: the
integrator needs to know that the customer expects a mail, not to hold a
copy of the address in every system the tenant connects (the dashboard
shows it to the tenant's staff). Name and text are the customer's own words,
sent as typed, so receivers must escape them like any user input.
"""

from sqlalchemy import select

from tracee.api.v1.representation import iso
from tracee.messages.models import TrackerMessage

MESSAGE_EVENTS = ("tracker.message_received", "message.replied")


def message_payload(session, tracker_id: int, seq: int) -> dict | None:
    message = session.scalar(select(TrackerMessage).where(
        TrackerMessage.tracker_id == tracker_id, TrackerMessage.event_seq == seq))
    if message is None:
        return None
    return {"id": message.id, "text": message.text, "name": message.name,
            "has_email": message.email is not None, "created_at": iso(message.created_at)}
