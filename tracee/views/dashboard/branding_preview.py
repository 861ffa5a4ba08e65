"""Settings -> Branding -> preview: the real tracking page, on a sample order.

The page is rendered by tracee.views.tracking itself (the tenant's page
template if it has one, the theme as CSS variables in a nonce'd style), for a
tracker that exists only in this request. GET shows the saved theme; POST
shows the form's values unsaved, each one that its rule refuses left as
saved. Nothing is written.
"""

import uuid

from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_SETTINGS, VIEW
from tracee.branding.acquisition import Brand, Presentation
from tracee.branding.theme import effective_values
from tracee.db import utcnow
from tracee.tenancy.resources import PlatformRoot, TenantResource, TrackerPage
from tracee.tracking.estimates import step_due_at
from tracee.tracking.records import StepRecord, TrackerRecord
from tracee.tracking.templates import find_template, list_templates
from tracee.views.dashboard.branding import Theme
from tracee.views.dashboard.branding_form import read_post
from tracee.views.tracking import tracking_page_as

SAMPLE_NUMBER = 1042
SAMPLE_TOKEN = uuid.UUID(int=0)
# Framed by the branding page only; styles by nonce, as on the real page; no
# script runs (the real page's live.js would poll for an order that does not exist).
PREVIEW_CSP = (
    "default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


def sample_tracker(request, theme: Theme) -> TrackerRecord:
    """An order halfway through a template of the tenant's: one whose steps the
    theme labels, so the labels show, else the first there is."""
    labelled = [s["template"] for s in theme.effective.get("steps") or ()]
    spec = next((t for t in map(lambda slug: find_template(request.db, slug), labelled) if t),
                None) or list_templates(request.db)[0]
    now = utcnow()
    steps = []
    for position, step in enumerate(spec.steps):
        steps.append(StepRecord(position, step.name, step.visible))
    visible = [s for s in steps if s.visible]
    for done in visible[: max(1, len(visible) // 2)]:
        done.started_at = done.completed_at = now
    current = visible[len(visible) // 2] if len(visible) > 1 else None
    if current is not None:
        current.started_at = now
    record = TrackerRecord(0, SAMPLE_NUMBER, "Sample order", spec.slug, now, now, None, 0,
                           None, None, SAMPLE_TOKEN, steps)
    record.step_due_at = step_due_at(record)
    return record


def _lineage(chain) -> TenantResource:
    parent = PlatformRoot(None)
    for tenant in reversed(chain):
        parent = TenantResource(tenant, parent)
    return parent


def _preview(context, request, theme: Theme, posted=None):
    values, name = list(theme.values), theme.tenant.name
    if posted is not None:
        own = dict(values[0])
        own.update({k: v for k, v in posted.changes.items() if k not in posted.errors})
        values[0] = own
        if "display_name" not in posted.errors:
            name = posted.display_name
    tenant = _lineage(theme.chain)
    saved = request.registry["branding.themes"].presentation(request.db, tenant)
    presentation = Presentation(Brand(name, effective_values(values)), saved.templates)
    request.dashboard_headers = {
        "Content-Security-Policy": PREVIEW_CSP.format(nonce=request.csp_nonce),
        "X-Frame-Options": "SAMEORIGIN",
    }
    page = TrackerPage(sample_tracker(request, theme), tenant)
    return tracking_page_as(page, request, presentation)


@view_config(route_name="dashboard", context="tracee.views.dashboard.resources.BrandingSection",
             name="preview", permission=VIEW, request_method="GET")
def preview(context, request):
    return _preview(context, request, Theme(request, context))


@view_config(route_name="dashboard", context="tracee.views.dashboard.resources.BrandingSection",
             name="preview", permission=EDIT_SETTINGS, request_method="POST", require_csrf=True)
def preview_unsaved(context, request):
    theme = Theme(request, context)
    posted = read_post(request.POST, theme.step_rows(request), theme.own.get("steps"))
    return _preview(context, request, theme, posted)
