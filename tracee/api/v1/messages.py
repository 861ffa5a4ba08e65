"""/trackers/{id}/messages/: the tracker's questions and replies; reply with a POST.

Unlike the ``tracker.message_received`` webhook, these answers carry the
customer's address: they are fetched with the tenant's own key, not pushed
to a URL whose logs the tenant may not control.
"""

import colander

from tracee.api.openapi import operation
from tracee.api.schemas import StrictString, json_body
from tracee.api.v1.message_shapes import MESSAGE_EXAMPLE, REPLY_EXAMPLE, ref
from tracee.api.v1.representation import iso
from tracee.api.v1.services import api_service
from tracee.api.v1.trackers import load_tracker
from tracee.messages import service
from tracee.messages.models import TEXT_MAX, TrackerMessage

messages = api_service("tracker_messages", "/trackers/{id}/messages")


def _clean(node, value):
    try:
        service.clean_text(value)
    except service.MessageError as exc:
        raise colander.Invalid(node, exc.errors["text"]) from None


_clean.json_schema = {"minLength": 1, "maxLength": TEXT_MAX}


class Reply(colander.MappingSchema):
    text = colander.SchemaNode(
        StrictString(),
        validator=colander.All(
            colander.Length(max=TEXT_MAX, max_err=f"must be at most {TEXT_MAX} characters"),
            _clean),
        description="line breaks kept; surrounding white space trimmed")


def message_json(m: TrackerMessage) -> dict:
    return {"id": m.id, "kind": m.kind, "name": m.name, "email": m.email, "text": m.text,
            "author": m.author, "created_at": iso(m.created_at),
            "answered_at": iso(m.answered_at)}


@messages.get()
@operation(200, {"type": "array", "items": ref("Message")}, "List a tracker's messages",
           example=[MESSAGE_EXAMPLE])
def list_messages(request):
    """Questions customers asked on the tracking page and the replies, oldest first."""
    tracker = load_tracker(request)
    if not tracker.message_count:
        return []
    return [message_json(m) for m in service.thread(request.db, tracker.id)]


@messages.post(validators=(json_body(Reply()),))
@operation(201, ref("Message"), "Reply to the tracker's questions",
           request_example=REPLY_EXAMPLE)
def reply(request):
    """The reply answers every open question, shows on the tracking page, and is mailed
    (by the worker) to the address each open question gave."""
    tracker = load_tracker(request)
    message = service.reply(request.db, tracker.id, tracker.tracking_token,
                            request.validated["text"], request.context.actor.label)
    request.response.status = 201
    return message_json(message)
