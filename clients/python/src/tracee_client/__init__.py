"""The official Python client for the Tracee API.

    from tracee_client import TraceeClient

    tracee = TraceeClient(api_key="tk_live_...")
    tracker = tracee.create_tracker(name="Order #1234 - Blue Vase", template="3d-printing")
    tracee.update_status(tracker["id"], "3D Printing", "start")
"""

from tracee_client._version import __version__
from tracee_client.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, TraceeClient
from tracee_client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TraceeError,
    ValidationError,
)
from tracee_client.retry import RetryPolicy
from tracee_client.types import (
    Action,
    DeliveryAttempt,
    ErrorDetail,
    HistoryEntry,
    RetryQueued,
    Step,
    StepInput,
    StepStatus,
    Template,
    TemplateStep,
    TestQueued,
    Tracker,
    TrackerSummary,
    Webhook,
    WebhookEvent,
    WebhookWithSecret,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Action",
    "DeliveryAttempt",
    "AuthenticationError",
    "ConflictError",
    "ErrorDetail",
    "HistoryEntry",
    "NotFoundError",
    "RateLimitError",
    "RetryPolicy",
    "RetryQueued",
    "ServerError",
    "Step",
    "StepInput",
    "StepStatus",
    "Template",
    "TemplateStep",
    "TestQueued",
    "TraceeClient",
    "TraceeError",
    "Tracker",
    "TrackerSummary",
    "ValidationError",
    "Webhook",
    "WebhookEvent",
    "WebhookWithSecret",
    "__version__",
]
