"""The shapes the API answers with, as TypedDicts.

The client returns the decoded JSON itself, so ``tracker["tracking_url"]``
works exactly as with a bare ``requests`` call; these types only tell a type
checker (and a reader) which keys to expect. Times are ISO 8601 strings in
UTC ending in ``Z``, as the API sends them.
"""

# Optional rather than ``X | None``: TypedDicts keep
# their annotations for get_type_hints(), which must work on Python 3.9 too.
from typing import Literal, Optional, TypedDict

StepStatus = Literal["pending", "in_progress", "completed"]
Action = Literal["start", "complete"]
WebhookEvent = Literal["tracker.created", "tracker.status_changed", "tracker.completed",
                       "tracker.message_received"]


class HistoryEntry(TypedDict):
    """A step that has been started, in the order the workflow runs."""

    process: str
    status: StepStatus
    started_at: Optional[str]
    completed_at: Optional[str]


class _StepRequired(TypedDict):
    name: str
    order: int
    visible: bool
    status: StepStatus
    started_at: Optional[str]
    completed_at: Optional[str]


class Step(_StepRequired, total=False):
    """One step of a tracker's workflow, started or not; ``expected_minutes``
    only when the step was given an expected duration."""

    expected_minutes: int


class TrackerSummary(TypedDict):
    """A tracker as ``list_trackers`` yields it (no steps or history)."""

    id: int
    number: int
    name: str
    template: Optional[str]
    tracking_token: str
    tracking_url: str
    api_url: str
    embed_code: str
    qr_code_url: str
    current_process: Optional[str]
    is_completed: bool
    estimated_ready_at: Optional[str]
    estimate_source: Optional[Literal["set", "expected"]]
    is_late: bool
    created_at: str
    updated_at: str


class Tracker(TrackerSummary):
    """A tracker with its history and every step (create, read, status change)."""

    history: list[HistoryEntry]
    steps: list[Step]


class _TemplateStepRequired(TypedDict):
    name: str
    order: int
    visible: bool


class TemplateStep(_TemplateStepRequired, total=False):
    """A template's step; ``expected_minutes`` only when one is set."""

    expected_minutes: int


class Template(TypedDict):
    """A workflow: built in, or the tenant's own (``builtin`` false)."""

    slug: str
    name: str
    builtin: bool
    steps: list[TemplateStep]


class _StepInputRequired(TypedDict):
    name: str


class StepInput(_StepInputRequired, total=False):
    """A step given to ``create_template``; ``visible`` defaults to true,
    ``expected_minutes`` (for the customer's estimate) to none."""

    visible: bool
    expected_minutes: int


class ErrorDetail(TypedDict):
    """One entry of the API's error body: where the problem is and what it is."""

    location: str
    name: Optional[str]
    description: str


class Webhook(TypedDict):
    """A webhook endpoint, as every call but create and rotation shows it: no secret."""

    id: int
    url: str
    events: list[WebhookEvent]
    description: str
    enabled: bool
    disabled_reason: Optional[str]
    created_at: str
    updated_at: str


class WebhookWithSecret(Webhook):
    """An endpoint with its signing secret (``whsec_...``): shown only by create and rotation."""

    secret: str


class DeliveryAttempt(TypedDict):
    """One attempt to deliver an event to an endpoint."""

    delivery_id: int
    event_id: str
    event_type: str
    attempt: int
    attempted_at: str
    response_status: Optional[int]
    duration_ms: int
    error: Optional[str]
    response_body: Optional[str]
    next_attempt_at: Optional[str]


class TestQueued(TypedDict):
    """The ``webhook.test`` event queued by ``test_webhook``."""

    delivery_id: int
    event_id: str
    event_type: str


class RetryQueued(TypedDict):
    delivery_id: int
    status: str
