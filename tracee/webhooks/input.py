"""What an endpoint's fields may hold: one set of rules for the API and the dashboard.

The syntax is checked here; what a URL names (scheme allowed, host public)
is checked by tracee.webhooks.ssrf when the endpoint is saved.
"""

import re

import colander

from tracee.api.schemas import StrictBoolean, StrictString, text_node
from tracee.webhooks.models import TRACKER_EVENTS

MAX_URL, MAX_DESCRIPTION = 2000, 500
# The syntax a target may have; what it names (scheme allowed, host public)
# is checked by tracee.webhooks.ssrf. Spaces, controls and non-ASCII must be
# percent-encoded: a URL is sent as written.
URL_RE = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://[!-~]+\Z")


def _distinct(node, values):
    if len(set(values)) != len(values):
        raise colander.Invalid(node, "must not repeat an event")


_distinct.json_schema = {"uniqueItems": True}


def url_node(**kw):
    return colander.SchemaNode(
        StrictString(),
        validator=colander.All(
            colander.Length(min=1, max=MAX_URL, min_err="must not be empty",
                            max_err=f"must be at most {MAX_URL} characters"),
            colander.Regex(URL_RE, "must be an http(s) URL of printable ASCII characters, "
                                   "without spaces"),
        ),
        **kw)


class EventList(colander.Sequence):
    """A JSON array, named as such when it is not one (null included)."""

    def deserialize(self, node, cstruct):
        if cstruct is not colander.null and not isinstance(cstruct, list):
            raise colander.Invalid(node, "must be a list of event names")
        return super().deserialize(node, cstruct)


def events_node(**kw):
    event = colander.SchemaNode(StrictString(), validator=colander.OneOf(
        TRACKER_EVENTS, msg_err=f"must be one of: {', '.join(TRACKER_EVENTS)}"))
    return colander.SchemaNode(
        EventList(), event,
        validator=colander.All(colander.Length(min=1, min_err="must list at least one event"),
                               _distinct),
        **kw)


def description_node(**kw):
    return text_node(MAX_DESCRIPTION, min_length=0, **kw)


class WebhookCreate(colander.MappingSchema):
    url = url_node()
    events = events_node(missing=list(TRACKER_EVENTS))
    description = description_node(missing="")


class WebhookUpdate(colander.MappingSchema):
    url = url_node(missing=colander.drop)
    events = events_node(missing=colander.drop)
    description = description_node(missing=colander.drop)
    enabled = colander.SchemaNode(StrictBoolean(), missing=colander.drop)
