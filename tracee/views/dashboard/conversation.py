"""A tracker's conversation on its dashboard page (dashboard/_conversation.jinja2)."""

from tracee.messages import service
from tracee.views.dashboard.resources import TrackerNode, dashboard_path


def conversation(request, context: TrackerNode, reply_error=None, reply_text="") -> dict:
    """The tracker page's conversation panel; opening it marks the questions read.

    No query when the tracker has no messages (``message_count``)."""
    tracker = context.tracker
    messages = service.thread(request.db, tracker.id) if tracker.message_count else []
    if request.method == "GET":
        service.mark_read(request.db, messages)
    return {"messages": messages, "reply_error": reply_error, "reply_text": reply_text,
            "reply_url": dashboard_path(request, context.tenant.slug, "trackers",
                                        str(tracker.id), "reply")}
