"""/trackers/{id}/status/: start or complete a process step."""

import colander

from tracee.api.openapi import operation
from tracee.api.schemas import StrictString, json_body, text_node
from tracee.api.v1.representation import tracker_detail
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import STATUS_EXAMPLE, TRACKER_EXAMPLE, ref
from tracee.api.v1.trackers import domain_error, load_tracker
from tracee.tracking.workflow import ACTIONS, WorkflowError, apply_action

status = api_service("tracker_status", "/trackers/{id}/status")


class StatusUpdate(colander.MappingSchema):
    process = text_node(200)
    action = colander.SchemaNode(
        StrictString(),
        validator=colander.OneOf(ACTIONS, msg_err=f"must be one of: {', '.join(ACTIONS)}"),
    )


@status.post(validators=(json_body(StatusUpdate()),))
@operation(200, ref("Tracker"), "Start or complete a step",
           others={400: "the tracker's template has no such process"},
           request_example=STATUS_EXAMPLE, example=TRACKER_EXAMPLE)
def update_status(request):
    """Acting on a step closes every earlier open step; repeating an action that already
    holds changes nothing; ``start`` on an earlier step re-opens it. Without a template,
    an unknown process is added as the next step."""
    # Locked so two updates of one tracker apply one after the other.
    found = load_tracker(request, lock=True)
    data = request.validated
    try:
        apply_action(request.db, found, data["process"], data["action"], request.context.actor)
    except WorkflowError as exc:
        raise domain_error(exc) from None
    return tracker_detail(found, request.urls)
