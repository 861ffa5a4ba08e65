"""A tenant's unsaved page template rendered on a made-up order, for the editor's preview.

The sample goes through what a customer's page goes through: the visible
steps of a built-in workflow with the names the tenant's theme gives them,
template_context, and the same sandbox and budget (tracee.branding.sandbox).
Nothing is stored and no error is recorded: the source is not published.
"""

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracee.api.v1.representation import iso
from tracee.branding.acquisition import Brand, resolve
from tracee.branding.page_templates import template_context
from tracee.branding.qr import render_qr
from tracee.branding.sandbox import compile_source, render
from tracee.branding.service import own_values, tenant_chain
from tracee.db import utcnow
from tracee.tracking.builtin_templates import BUILTIN_TEMPLATES
from tracee.tracking.estimates import Estimate
from tracee.tracking.models import COMPLETED, IN_PROGRESS, PENDING
from tracee.views.tracking import headline, public_steps

SAMPLE_WORKFLOW = "3d-printing"
SAMPLE_NAME = "Order #1042 - Blue Vase"
SAMPLE_NUMBER = 1042
SAMPLE_TOKEN = "00000000-0000-4000-8000-000000001042"  # shaped like a token, never issued
QR_SIZE = 240
# Where each step of the sample stands: two done, one in progress, the rest waiting.
DONE, UNDER_WAY = 2, 1

# The editor's page with a preview: the dashboard's policy, and what the tracking
# page allows the template itself (its <style nonce>, images over https). The
# preview's frame inherits it; its sandbox runs no script.
PREVIEW_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' https: data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class SampleStep:
    name: str
    visible: bool
    status: str
    started_at: datetime | None
    completed_at: datetime | None


def _sample_steps(now: datetime) -> list[SampleStep]:
    steps = []
    for i, spec in enumerate(BUILTIN_TEMPLATES[SAMPLE_WORKFLOW].steps):
        started = now - timedelta(hours=30 - 6 * i)
        if i < DONE:
            status, times = COMPLETED, (started, started + timedelta(hours=5))
        elif i < DONE + UNDER_WAY:
            status, times = IN_PROGRESS, (started, None)
        else:
            status, times = PENDING, (None, None)
        steps.append(SampleStep(spec.name, spec.visible, status, *times))
    return steps


@dataclass(frozen=True)
class SampleTracker:
    name: str = SAMPLE_NAME
    number: int = SAMPLE_NUMBER


def effective_brand(session, tenant_id: int) -> Brand:
    """The theme the tenant's pages have now, inherited values included."""
    chain = tenant_chain(session, tenant_id)
    return resolve(chain, [own_values(session, t) for t in chain])


def sample_context(request, brand: Brand) -> dict:
    now = utcnow().replace(microsecond=0)
    # The language the tenant's customers most likely read: its fixed one, else its default.
    lang = brand.values.get("language") or brand.values.get("default_language") or "en"
    steps = public_steps(brand, SAMPLE_WORKFLOW, _sample_steps(now), lang)
    view = {
        "lang": lang, "tracker": SampleTracker(), "steps": steps, "is_completed": False,
        "headline": headline(steps, False, lang), "done": DONE, "total": len(steps),
        "updated_at": now, "iso": iso,
        "estimate": Estimate(now + timedelta(days=2), "expected", False,
                             now + timedelta(hours=5), None),
    }
    tracking = request.urls.tracking(SAMPLE_TOKEN)
    qr = "data:image/png;base64," + base64.b64encode(render_qr(tracking, QR_SIZE).png).decode()
    urls = {"tracking": tracking, "embed": request.urls.embed(SAMPLE_TOKEN), "qr": qr,
            "stylesheet": request.static_url("tracee:static/tracee.css")}
    return template_context(view, brand, urls, request.csp_nonce)


def preview(request, tenant_id: int, source: str) -> str:
    """The page the source makes of the sample; TemplateRefused or RenderError if none."""
    template = compile_source(source)
    html = render(template, sample_context(request, effective_brand(request.db, tenant_id)))
    request.dashboard_csp = PREVIEW_CSP.format(nonce=request.csp_nonce)
    return html
