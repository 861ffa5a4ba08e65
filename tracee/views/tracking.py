"""The customer's views of a tracker: full page, embed widget, QR code."""

from dataclasses import dataclass

from pyramid.view import view_config

from tracee.api.v1.representation import iso
from tracee.branding.page_templates import render_custom, template_context
from tracee.branding.qr import qr_response, requested_size
from tracee.front_cache import mark_immutable
from tracee.tenancy.resources import EmbedPage, TrackerPage, TrackerResource
from tracee.tracking.models import COMPLETED, IN_PROGRESS
from tracee.views.ask_form import ask_form

STATUS_LABELS = {"pending": "Waiting", IN_PROGRESS: "In progress", COMPLETED: "Done"}
# The page changes with every step, so a browser asks again each time; and its
# address is a capability, so no shared cache keeps it.
PAGE_CACHE_CONTROL = "private, no-cache"


@dataclass(frozen=True)
class PublicStep:
    name: str
    label: str  # the customer-facing name the theme gives the step, else its name
    description: str | None
    status: str
    status_label: str
    started_at: str | None
    completed_at: str | None


def progress_etag(event_seq: int) -> str:
    """The version of what the pages show: every visible change raises
    ``event_seq``. The prefix changes with the progress view's format."""
    return f"p1-{event_seq}"


def _display_time(value):
    return value.strftime("%d %b %Y, %H:%M UTC") if value else None


def _public_view(context: TrackerResource, request) -> dict:
    """What a customer may see: visible steps only, and nothing internal."""
    tracker = context.tracker
    presentation = request.registry["branding.themes"].presentation(request.db, context)
    brand = presentation.brand
    steps = []
    for s in tracker.steps:
        if s.visible:
            text = brand.step_text(tracker.template_slug, s.name) or {}
            steps.append(PublicStep(
                s.name, text.get("label") or s.name, text.get("description"), s.status,
                STATUS_LABELS[s.status], s.started_at, s.completed_at,
            ))
    done = sum(1 for s in steps if s.status == COMPLETED)
    current = next((s for s in reversed(steps) if s.status == IN_PROGRESS), None)
    if tracker.is_completed:
        headline = "Complete"
    elif current is not None:
        headline = current.label
    elif done:
        headline = f"{next(s for s in reversed(steps) if s.status == COMPLETED).label} done"
    else:
        headline = "Order received"
    return {
        "tracker": tracker,
        "brand": brand,
        "presentation": presentation,
        "vendor_credit": request.registry["branding.vendor_credit"],
        "steps": steps,
        "done": done,
        "total": len(steps),
        "headline": headline,
        "is_completed": tracker.is_completed,
        "updated_at": tracker.updated_at,
        "iso": iso,
        "display_time": _display_time,
        "tracking_url": request.urls.tracking(tracker.tracking_token),
        "qr_url": request.urls.public_qr(tracker.tracking_token),
    }


def _page(context: TrackerResource, request, kind: str):
    """The tenant's own template for this kind of page, else the built-in one."""
    request.response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    view = _public_view(context, request)
    if view["presentation"].templates:
        token = context.tracker.tracking_token
        urls = {"tracking": view["tracking_url"], "embed": request.urls.embed(token),
                "qr": view["qr_url"],
                "stylesheet": request.static_url("tracee:static/tracee.css")}
        html = render_custom(request, view["presentation"], kind,
                             template_context(view, view["brand"], urls, request.csp_nonce))
        if html is not None:
            response = request.response
            response.content_type = "text/html"
            response.text = html
            return response
    request.live_updates = True  # tracee.headers lets its script run
    # What tracee/static/live.js polls, and the version this page shows.
    # Same origin as the page, whichever host served it (platform or custom domain).
    directory = "embed" if isinstance(context, EmbedPage) else "track"
    view["progress_url"] = f"{request.script_name}/{directory}/{context.__name__}/progress.json"
    view["progress_etag"] = progress_etag(context.tracker.event_seq)
    return view


@view_config(
    context=TrackerPage, request_method="GET", renderer="tracee:templates/tracking/page.jinja2"
)
def tracking_page(context, request):
    view = _page(context, request, "tracking")
    if isinstance(view, dict):
        # "Ask a question" (tracee.views.messages); a refused post brings its own.
        view["ask"] = getattr(request, "ask_form", None) or ask_form(context, request)
    return view


@view_config(
    context=EmbedPage, request_method="GET", renderer="tracee:templates/tracking/embed.jinja2"
)
def embed_page(context, request):
    request.embeddable = True
    return _page(context, request, "embed")


@view_config(context=TrackerPage, name="qr.png", request_method="GET")
def public_qr(context, request):
    size = requested_size(request)
    url = request.urls.tracking(context.tracker.tracking_token)
    # Tokens are never reassigned: this host, address and query always get these bytes.
    mark_immutable(request)
    return qr_response(request, url, size, "public, max-age=86400")
