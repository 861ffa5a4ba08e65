"""The customer's side of "Email me updates": subscribe, confirm, unsubscribe.

All under the tracker's capability address (``/track/<token>/...``), so the
tracker and its tenant are resolved by traversal as for the page, and no
session is loaded. The subscription form is refused without a valid form
token (tracee.form_tokens); the confirm and unsubscribe links
carry the subscription's own 256-bit token, so their buttons need no CSRF
token: whoever holds the link may use it, which is what RFC 8058's one-click
POST from a mail reader relies on. A GET never changes anything (mail
scanners open links), it shows the button.
"""

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from tracee.customer_mail.subscriptions import (
    AddressError,
    clean_address,
    clean_language,
    confirm,
    find_by_token,
    subscribe,
    unsubscribe,
)
from tracee.i18n import N_
from tracee.tenancy.resources import TrackerPage
from tracee.tracking.workflow import tracker_for_update
from tracee.views.tracking import TRACKING_TEMPLATE, render_page, tracking_view

UPDATES = "tracee:templates/tracking/updates.jinja2"
SHOWN_BACK = 300  # characters of a refused address shown back in the field
HONEYPOT = "website"


def _base(context, request) -> str:
    return f"{request.script_name}/track/{context.tracker.tracking_token}"


def _updates_page(context, request, state: str, status: int = 200, **extra) -> dict:
    request.response.status = status
    request.response.headers["Cache-Control"] = "no-store"
    presentation = request.registry["branding.themes"].presentation(request.db, context)
    return {"state": state, "tracker": context.tracker, "brand": presentation.brand,
            "vendor_credit": request.registry["branding.vendor_credit"],
            "tracking_url": _base(context, request), **extra}


def _refuse(context, request, status: int, error: str, value: str):
    """The tracking page again, with the error beside the field; nothing stored."""
    fields = {"subscribe_error": error, "subscribe_value": value[:SHOWN_BACK]}
    view = tracking_view(context, request)
    if isinstance(view, dict):
        view.update(fields)
        request.response.status = status
        return render_page(request, TRACKING_TEMPLATE, view)
    # The tenant's own page template has no form of ours: the form alone, then.
    return render_to_response(UPDATES, _updates_page(context, request, "form", status, **fields),
                              request, response=request.response)


@view_config(context=TrackerPage, name="subscribe", request_method="POST")
def subscribe_view(context, request):
    settings = request.registry["customer_mail.settings"]
    raw = request.POST.get("email", "")
    raw = raw if isinstance(raw, str) else ""
    sent = HTTPSeeOther(f"{_base(context, request)}/subscribed")
    if request.POST.get(HONEYPOT):
        return sent  # a bot: it is told what a person would be, and nothing is kept
    if not request.registry["customer_mail.form_tokens"].valid(
            context.tracker.tracking_token, request.POST.get("form_token", "")):
        return _refuse(context, request, 400,
                       N_("This form has expired. Please enter your address again."), raw)
    try:
        email = clean_address(raw)
    except AddressError as exc:
        return _refuse(context, request, 400, str(exc), raw)
    limiter = request.registry["ratelimiter"]
    tracker_key = f"{context.tenant.id}:{context.tracker.id}"
    if not (limiter.allow("mail-address", email, settings.rate_per_address)
            and limiter.allow("mail-tracker", tracker_key, settings.rate_per_tracker)):
        return _refuse(context, request, 429,
                       N_("Too many requests for this address or order. Please try again later."),
                       raw)
    tracker = tracker_for_update(request.db, context.tracker.id)
    # The language the page was shown in (the form says), for every mail to come.
    language = clean_language(request.POST.get("lang") or request.locale_name)
    subscribe(request.db, tracker, email, language, "page")
    return sent


@view_config(context=TrackerPage, name="subscribed", request_method="GET", renderer=UPDATES)
def subscribed_view(context, request):
    return _updates_page(context, request, "sent")


def _subscription(context, request):
    if len(request.subpath) != 1:
        return None
    return find_by_token(request.db, context.tracker.id, request.subpath[0])


@view_config(context=TrackerPage, name="confirm", request_method=("GET", "POST"),
             renderer=UPDATES)
def confirm_view(context, request):
    subscription = _subscription(context, request)
    if subscription is None:
        return _updates_page(context, request, "invalid", 404)
    if request.method == "POST":
        confirm(subscription, context.tracker)
    return _updates_page(context, request,
                         "confirmed" if subscription.confirmed_at else "confirm",
                         unsubscribe_url=f"{_base(context, request)}/unsubscribe/"
                                         f"{subscription.token}")


@view_config(context=TrackerPage, name="unsubscribe", request_method=("GET", "POST"),
             renderer=UPDATES)
def unsubscribe_view(context, request):
    """GET asks; POST (the button, or a mail reader's RFC 8058 one-click) unsubscribes.
    A POST for a subscription already gone says the same again: retries are harmless."""
    subscription = _subscription(context, request)
    if request.method == "POST":
        if subscription is not None:
            unsubscribe(request.db, subscription)
        return _updates_page(context, request, "unsubscribed")
    if subscription is None:
        return _updates_page(context, request, "invalid", 404)
    return _updates_page(context, request, "unsubscribe", email=subscription.email)
