"""The JSON Schemas and examples of /trackers/{id}/messages/ (see shapes.py)."""

from tracee.api.v1.shapes import NULLABLE_TIME, TIME, _object
from tracee.messages.models import QUESTION, REPLY, TEXT_MAX

NULLABLE_TEXT = {"type": ["string", "null"]}
MESSAGE = _object({
    "id": {"type": "integer", "minimum": 1, "description": "counts within the tracker"},
    "kind": {"type": "string", "enum": [QUESTION, REPLY],
             "description": "a customer's question (tracking page) or a reply"},
    "name": {**NULLABLE_TEXT, "description": "the name the customer gave, if any"},
    "email": {**NULLABLE_TEXT, "description": "where the customer wants the answer, if any"},
    "text": {"type": "string", "maxLength": TEXT_MAX,
             "description": "as written: escape it wherever you show it"},
    "author": {**NULLABLE_TEXT, "description": "who replied (a person's email or key:<id>)"},
    "created_at": TIME,
    "answered_at": {**NULLABLE_TIME, "description": "when a reply answered this question"},
})
MESSAGE_SCHEMAS = {"Message": MESSAGE}
MESSAGE_EXAMPLE = {
    "id": 1, "kind": QUESTION, "name": "Ann", "email": "ann@example.com",
    "text": "Could you gift-wrap it?", "author": None,
    "created_at": "2026-12-02T09:14:03Z", "answered_at": None,
}
REPLY_EXAMPLE = {"text": "Of course: it ships wrapped tomorrow."}


def ref(name: str) -> dict:
    assert name in MESSAGE_SCHEMAS, name
    return {"$ref": f"#/components/schemas/{name}"}
