"""What the tracking page's "Ask a question" shows (tracking/_ask.jinja2)."""

from tracee.messages import service

EMPTY = {"name": "", "email": "", "text": ""}


def page_path(request, context) -> str:
    # Same origin as the page, whichever host served it (platform or custom domain).
    return f"{request.script_name}/track/{context.__name__}"


def ask_form(context, request, values=None, errors=None) -> dict:
    """The form's token, values and errors, and the conversation: one query,
    only when the tracker has messages (``message_count`` is read with it)."""
    tracker = context.tracker
    return {
        "action": page_path(request, context) + "/ask",
        "form_token": request.registry["messages.form_tokens"].issue(tracker.tracking_token),
        "typed": values or EMPTY,  # not "values": templates would find dict.values
        "errors": errors or {},
        "sent": request.GET.get("sent") == "1" and not errors,
        "thread": service.thread(request.db, tracker.id) if tracker.message_count else [],
    }
