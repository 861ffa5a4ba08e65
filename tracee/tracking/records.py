"""A tracker and its steps as plain values: what the hot paths read and write.

``reads.py`` returns these for the API GET, the QR code and the pages;
``writes.py`` creates, locks and saves them for the rules in ``workflow.py``.
They share their derived state (status, current step) with the ORM classes
in ``models.py`` through its mixins, so a representation takes either.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from tracee.tracking.models import StepState, TrackerState


@dataclass(slots=True)
class StepRecord(StepState):
    position: int
    name: str
    visible: bool = True
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expected_minutes: int | None = None


@dataclass(slots=True)
class TrackerRecord(TrackerState):
    id: int
    number: int
    name: str
    template_slug: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    event_seq: int
    ready_by: datetime | None
    step_due_at: datetime | None
    tracking_token: uuid.UUID
    steps: list[StepRecord]
    message_count: int = 0
    # Each step's times as stored, by position: what writes.save_changes
    # compares against to write only the steps that changed. Noted by the
    # writes that read or save a record; a record read only to be shown (an
    # API read, a page) never needs it.
    stored: dict[int, tuple] | None = field(default=None, init=False, repr=False, compare=False)

    def mark_stored(self) -> None:
        self.stored = {s.position: (s.started_at, s.completed_at) for s in self.steps}
