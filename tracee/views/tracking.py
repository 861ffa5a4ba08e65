"""The customer's views of a tracker: full page, embed widget, QR code."""

from functools import lru_cache
from typing import NamedTuple

from markupsafe import Markup, escape
from pyramid.view import view_config

from tracee import translated_templates
from tracee.api.v1.representation import iso
from tracee.branding.page_templates import render_custom, template_context
from tracee.branding.qr import qr_response, requested_size
from tracee.db import utcnow
from tracee.front_cache import mark_immutable
from tracee.i18n import N_, REQUEST_ATTRIBUTE, format_datetime, negotiate, translations
from tracee.tenancy.resources import EmbedPage, TrackerPage, TrackerResource
from tracee.tracking.estimates import estimate
from tracee.tracking.models import COMPLETED, IN_PROGRESS
from tracee.views.ask_form import ask_form
from tracee.views.page_forms import blank_forms

STATUS_LABELS = {"pending": N_("Waiting"), IN_PROGRESS: N_("In progress"), COMPLETED: N_("Done")}
# The page changes with every step, so a browser asks again each time; and its
# address is a capability, so no shared cache keeps it.
PAGE_CACHE_CONTROL = "private, no-cache"


_new_tuple = tuple.__new__


class PublicStep(NamedTuple):
    """A step as customers see it. A tuple so that the page's template unpacks
    it in its loop (tracking/_progress.jinja2: these fields, in this order)
    rather than looking up each field of each step through Jinja2."""

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


# Most steps have no text of the theme's own.
NO_NAMES = (None, None)


@lru_cache(maxsize=64)  # one entry per language
def status_labels(lang: str) -> dict[str, str]:
    catalog = translations(lang)
    return {status: catalog.gettext(label) for status, label in STATUS_LABELS.items()}


def public_steps(brand, template_slug: str | None, steps, lang: str = "en") -> list[PublicStep]:
    """The visible steps, with the names and descriptions the theme gives them in ``lang``."""
    names = brand.step_names(template_slug, lang)
    labels = status_labels(lang)
    shown = []
    for s in steps:
        if s.visible:
            label, description = names.get(s.name, NO_NAMES)
            status = s.status
            # tuple.__new__ as PublicStep's own __new__ ends, without its frame.
            shown.append(_new_tuple(PublicStep, (
                s.name, label or s.name, description, status, labels[status], s.started_at,
                s.completed_at)))
    return shown


def headline(steps: list[PublicStep], is_completed: bool, lang: str = "en") -> str:
    """What the page says first: the step in progress, else the last one done."""
    catalog = translations(lang)
    current = next((s for s in reversed(steps) if s.status == IN_PROGRESS), None)
    if is_completed:
        return catalog.gettext("Complete")
    if current is not None:
        return current.label
    done = next((s for s in reversed(steps) if s.status == COMPLETED), None)
    if done is not None:
        return catalog.gettext("%(step)s done") % {"step": done.label}
    return catalog.gettext("Order received")


class Clock:
    """Times as the customer reads them: in the tenant's zone and the page's language.

    :meth:`element` writes ``<time>`` with the instant in UTC for
    tracee/static/live.js, which rewrites the text in the reader's own zone."""

    def __init__(self, lang: str, zone_name: str | None):
        self.lang, self.zone_name = lang, zone_name

    def display(self, value):
        return format_datetime(value, self.lang, self.zone_name)

    def element(self, value, relative: bool = False) -> Markup:
        return time_element(value, self.lang, self.zone_name, relative)


# A tracker's times are shown again on every view of its page, in few languages and
# zones; writing one (isoformat alone is some 15,000 instructions) costs more than finding it.
@lru_cache(maxsize=8192)
def time_element(value, lang: str, zone_name: str | None, relative: bool) -> Markup:
    # "2 hours ago" reads right only where the sentence takes it ("Done · ...").
    attributes = " data-relative" if relative else ""
    # iso() writes digits, "-", ":", "T" and "Z" only.
    return Markup(f'<time datetime="{iso(value)}"{attributes}>'  # noqa: S704
                  f"{escape(format_datetime(value, lang, zone_name))}</time>")


def _public_view(context: TrackerResource, request, presentation=None) -> dict:
    """What a customer may see: visible steps only, and nothing internal,
    in the customer's language (:func:`tracee.i18n.negotiate`)."""
    tracker = context.tracker
    if presentation is None:
        presentation = request.registry["branding.themes"].presentation(request.reads, context)
    brand = presentation.brand
    lang = negotiate(request, brand.values)
    setattr(request, REQUEST_ATTRIBUTE, lang)  # the templates' _() and <html lang>
    catalog = translations(lang)
    steps = public_steps(brand, tracker.template_slug, tracker.steps, lang)
    done = [s.status for s in steps].count(COMPLETED)
    clock = Clock(lang, brand.values.get("time_zone"))
    return {
        "lang": lang,
        # The templates' gettext for this language, straight: the global one finds the
        # request's catalog on each of the page's few dozen strings (tracee.i18n).
        "gettext": catalog.gettext,
        "ngettext": catalog.ngettext,
        "tracker": tracker,
        "brand": brand,
        "presentation": presentation,
        "vendor_credit": request.registry["branding.vendor_credit"],
        "steps": steps,
        "done": done,
        "total": len(steps),
        "headline": headline(steps, tracker.is_completed, lang),
        # The count is the number of steps, so the plural follows it: "1 of 1 step done".
        "progress_text": catalog.ngettext("%(done)s of %(total)s step done",
                                          "%(done)s of %(total)s steps done",
                                          len(steps)) % {"done": done, "total": len(steps)},
        "is_completed": tracker.is_completed,
        "estimate": estimate(tracker, utcnow()),
        "updated_at": tracker.updated_at,
        "iso": iso,
        "display_time": clock.display,
        "time_element": clock.element,
        # context.__name__: the token as text, written once with the resource.
        "tracking_url": request.urls.tracking(context.__name__),
        "qr_url": request.urls.public_qr(context.__name__),
    }


def _page(context: TrackerResource, request, kind: str, presentation=None):
    """The tenant's own template for this kind of page, else the built-in one."""
    # Vary: the page's language may follow Accept-Language.
    request.response.put_headers(("Cache-Control", PAGE_CACHE_CONTROL), ("Vary", "Accept-Language"))
    view = _public_view(context, request, presentation)
    if view["presentation"].templates:
        token = context.tracker.tracking_token
        urls = {"tracking": view["tracking_url"], "embed": request.urls.embed(token),
                "qr": view["qr_url"],
                "stylesheet": request.static_url("tracee:static/tracee.css")}
        html = render_custom(request, view["presentation"], kind,
                             template_context(view, view["brand"], urls, request.csp_nonce))
        if html is not None:
            return html_response(request, html)
    request.live_updates = True  # tracee.headers lets its script run
    # What tracee/static/live.js polls, and the version this page shows.
    # Same origin as the page, whichever host served it (platform or custom domain).
    directory = "embed" if isinstance(context, EmbedPage) else "track"
    # Its language is the page's, named in the query, so the script's text matches the page's.
    view["progress_url"] = (f"{request.script_name}/{directory}/{context.__name__}/progress.json"
                            f"?lang={view['lang']}")
    view["progress_etag"] = progress_etag(context.tracker.event_seq)
    return view


TRACKING_TEMPLATE = "tracee:templates/tracking/page.jinja2"
EMBED_TEMPLATE = "tracee:templates/tracking/embed.jinja2"


def render_page(request, template: str, view: dict):
    """``request.response`` with ``template`` rendered for ``view``, in the
    environment of the page's language (tracee.translated_templates)."""
    html = translated_templates.environment(request.registry, view["lang"]) \
        .get_template(template).render(view, request=request)
    return html_response(request, html)


def html_response(request, html: str):
    """``request.response`` carrying ``html``, as ``text/html; charset=UTF-8``."""
    response = request.response
    # Encoded here, not through ``response.text``, which would parse the charset
    # back out of the Content-Type header (some 10 us a page).
    response.put_body(html.encode(), "text/html; charset=UTF-8")
    return response


def tracking_view(context, request):
    """What the tracking page shows, or the tenant's own page as a response."""
    view = _page(context, request, "tracking")
    if isinstance(view, dict):
        # "Ask a question" (tracee.views.messages); a refused post brings its own.
        view["ask"] = getattr(request, "ask_form", None) or ask_form(context, request)
    return view


@view_config(context=TrackerPage, request_method="GET")
def tracking_page(context, request):
    view = tracking_view(context, request)
    if not isinstance(view, dict):
        return view
    view["blank_forms"] = blank_forms(request, view)  # None: the template renders them
    return render_page(request, TRACKING_TEMPLATE, view)


def tracking_page_as(context: TrackerPage, request, presentation):
    """The tracking page of ``context`` dressed in ``presentation`` rather than
    its tenant's saved one: the dashboard's preview, on the page's own path."""
    found = _page(context, request, "tracking", presentation)
    if isinstance(found, dict):
        found["progress_url"] = ""  # a sample order has no progress to follow: no script
        found["sample"] = True  # nor forms to post: the page is shown without them
        return render_page(request, TRACKING_TEMPLATE, found)
    return found


@view_config(context=EmbedPage, request_method="GET")
def embed_page(context, request):
    request.embeddable = True
    view = _page(context, request, "embed")
    return render_page(request, EMBED_TEMPLATE, view) if isinstance(view, dict) else view


@view_config(context=TrackerPage, name="qr.png", request_method="GET")
def public_qr(context, request):
    size = requested_size(request)
    url = request.urls.tracking(context.tracker.tracking_token)
    # Tokens are never reassigned: this host, address and query always get these bytes.
    mark_immutable(request)
    return qr_response(request, url, size, "public, max-age=86400")
