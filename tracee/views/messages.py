"""The tracking page's "Ask a question": the form's values and the POST that sends it.

No session is loaded: the form carries a signed, time-limited token
(tracee.messages.form_token). A post is refused, with the page and the
reason beside the field, for a bad token, a filled-in honeypot, a field
that fails its rule, or a rate limit; nothing is stored then. A stored
question answers with a redirect to the page (POST, redirect, GET).
"""

from dataclasses import replace

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config

from tracee.i18n import language as i18n_language
from tracee.messages import service
from tracee.messages.service import N_
from tracee.tenancy.resources import TrackerPage
from tracee.views.ask_form import EMPTY, ask_form, page_path
from tracee.views.tracking import (
    PAGE_CACHE_CONTROL,
    TRACKING_TEMPLATE,
    render_page,
    tracking_view,
)


def _refused(context, request, values: dict, errors: dict, status: int):
    request.ask_form = ask_form(context, request, values, errors)
    view = tracking_view(context, request)
    if not isinstance(view, dict):  # the tenant's own page template: it shows no form
        view.status = status
        return view
    response = render_page(request, TRACKING_TEMPLATE, view)
    response.status = status
    response.headers["Cache-Control"] = "no-store"
    return response


@view_config(context=TrackerPage, name="ask", request_method="POST", require_csrf=False)
def ask(context, request):
    post = request.POST
    values = {k: post.get(k, "") for k in EMPTY}
    tokens = request.registry["messages.form_tokens"]
    tracker = context.tracker
    if not tokens.valid(tracker.tracking_token, post.get("form_token", "")):
        return _refused(context, request, values, {"form": N_(
            "This form has expired or did not come from this page. Please send it again.")}, 400)
    if post.get("website"):
        return _refused(context, request, values, {"form": N_(
            "Leave the field “Leave this field empty” empty to send your question.")}, 400)
    try:
        question = service.clean_question(values["name"], values["email"], values["text"])
    except service.MessageError as exc:
        return _refused(context, request, values, exc.errors, 400)
    limits = request.registry["messages.limits"]
    if not limits.allow(request.client_address, context.tenant.id, tracker.id):
        return _refused(context, request, values, {"form": N_(
            "Too many questions were sent from here or about this order; "
            "please try again later.")}, 429)
    # The language the page was read in (the form says), for the answer's mail.
    question = replace(question, language=i18n_language(post.get("lang")) or "en")
    service.ask(request.db, tracker.id, tracker.tracking_token, question)
    response = HTTPSeeOther(page_path(request, context) + "?sent=1#conversation")
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    return response
