"""The tracking page's two forms as nearly every view shows them, made once per language.

Blank (no error to show, nothing typed back, no conversation, no "sent"
note), the "Email me updates" and "Ask a question" forms differ between
trackers only in their two addresses and two form tokens; the rest is the
language's fixed text and markup. Rendered on every view, that was some
1,000 bytecodes of template (a third of the page's) for four values. So
tracking/_forms.jinja2 is rendered once per language with a marker in
each value's place, split there, and each view joins the pieces around its
own values, escaped as the template escapes them. A form that is not blank
is rendered by the template itself, as before.
"""

from types import SimpleNamespace

from markupsafe import Markup

from tracee import translated_templates
from tracee.customer_mail import SubscriptionForm
from tracee.translated_templates import escaped_text
from tracee.views.ask_form import EMPTY, NO_ERRORS, AskForm

FORMS_TEMPLATE = "tracee:templates/tracking/_forms.jinja2"
# Where each value goes: characters no escaping changes and no text of ours holds.
_VALUES = ("subscribe_action", "subscribe_token", "ask_action", "ask_token")
_MARKERS = {name: f"\x1e{name}\x1e" for name in _VALUES}

# language -> (the template it was split from, its pieces: text, value name, text, ...)
_split: dict[str, tuple] = {}


def is_blank(ask: AskForm) -> bool:
    return (ask.errors is NO_ERRORS and ask.typed is EMPTY and not ask.sent
            and not ask.thread)


def blank_forms(request, view: dict) -> Markup | None:
    """Both forms' markup for the page's ``view``; None if the ask form is not blank."""
    ask = view["ask"]
    if not is_blank(ask):
        return None
    pieces = _pieces(request.registry, view["lang"])
    subscribe = request.subscription_form
    values = {"subscribe_action": subscribe.action, "subscribe_token": subscribe.token,
              "ask_action": ask.action, "ask_token": ask.form_token}
    out = list(pieces)
    for at in range(1, len(out), 2):
        out[at] = escaped_text(values[out[at]])
    return Markup("".join(out))  # noqa: S704  (the template's own markup, values escaped)


def _pieces(registry, lang: str) -> tuple:
    template = translated_templates.environment(registry, lang).get_template(FORMS_TEMPLATE)
    found = _split.get(lang)
    if found is None or found[0] is not template:  # first use, or the template reloaded
        found = _split[lang] = (template, split(template.render(_marked(lang))))
    return found[1]


def _marked(lang: str) -> dict:
    """What the forms' template reads, with markers for the values each view fills in."""
    m = _MARKERS
    return {
        "lang": lang,
        "request": SimpleNamespace(
            locale_name=lang,
            subscription_form=SubscriptionForm(m["subscribe_action"], m["subscribe_token"])),
        "ask": AskForm(action=m["ask_action"], form_token=m["ask_token"], typed=EMPTY,
                       errors=NO_ERRORS, sent=False, thread=[]),
    }


def split(html: str) -> tuple:
    """``html`` as text, value name, text, ...: each marker once, or a ValueError."""
    pieces, rest = [], html
    for name, marker in sorted(_MARKERS.items(), key=lambda item: html.find(item[1])):
        before, found, rest = rest.partition(marker)
        if not found or marker in rest:
            raise ValueError(f"the forms' template must write {name} once")
        pieces += [before, name]
    return (*pieces, rest)
