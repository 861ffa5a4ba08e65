"""What the tracking page's "Ask a question" shows (tracking/_ask.jinja2)."""

from dataclasses import dataclass

from tracee.messages import service

EMPTY = {"name": "", "email": "", "text": ""}
FIELDS = ("form", "name", "email", "text")


class FieldErrors(dict):
    """A form's errors by field, where a field without one reads as None.

    Templates ask for every field's error; Jinja2 tries an attribute, then an
    item (or the other way round), raising an exception at each miss. A page
    without errors (nearly every page) then raised a few dozen."""

    # The form's own fields read as plain attributes, None unless __init__ sets
    # one: the page asks for them a dozen times, and a miss costs two calls.
    form = name = email = text = None

    def __init__(self, errors=()):
        super().__init__(errors)
        self.__dict__.update((field, self[field]) for field in FIELDS if field in self)

    def __missing__(self, key):
        return None

    def __getattr__(self, name):
        if name.startswith("__"):  # copy, pickle and the like ask for these
            raise AttributeError(name)
        return self[name]


NO_ERRORS = FieldErrors()


@dataclass(frozen=True, slots=True)
class AskForm:
    action: str
    form_token: str
    typed: dict  # what the customer typed; not "values": templates would find dict.values
    errors: FieldErrors
    sent: bool
    thread: list


def page_path(request, context) -> str:
    # Same origin as the page, whichever host served it (platform or custom domain).
    return f"{request.script_name}/track/{context.__name__}"


def ask_form(context, request, values=None, errors=None) -> AskForm:
    """The form's token, values and errors, and the conversation: one query,
    only when the tracker has messages (``message_count`` is read with it)."""
    tracker = context.tracker
    return AskForm(
        action=page_path(request, context) + "/ask",
        form_token=request.registry["messages.form_tokens"].issue(context.__name__),
        typed=values or EMPTY,
        errors=FieldErrors(errors) if errors else NO_ERRORS,
        # The query is parsed only if there is one (nearly every view has none).
        sent=(not errors and bool(request.environ.get("QUERY_STRING"))
              and request.GET.get("sent") == "1"),
        thread=service.thread(request.db, tracker.id) if tracker.message_count else [],
    )
