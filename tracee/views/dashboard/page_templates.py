"""Settings -> Page templates: edit, preview, publish, reset and roll back a tenant's
own tracking page and embed templates.

Every change goes through tracee.branding.page_templates, the API's functions,
so the dashboard saves exactly what the API would and refuses what it refuses.
Everyone who may view the tenant reads the source and the versions; only those
who may edit its settings change them.
"""

import re
from importlib.resources import files

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_SETTINGS, VIEW
from tracee.branding import page_templates as pages
from tracee.branding.sandbox import MAX_SOURCE_BYTES, RenderError, TemplateRefused
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import (
    PageTemplateNode,
    PageTemplatesSection,
    as_id,
    dashboard_path,
)
from tracee.views.dashboard.template_preview import preview
from tracee.views.dashboard.trackers import actor_names, person

KIND_NAMES = {"tracking": "Tracking page", "embed": "Embed"}
NOTHING_SAVED = "Nothing was saved: correct the template below."
# What a redirect after a change says (by key: nothing from the address is shown).
DONE = {
    "published": "Published: customers see this template now.",
    "reset": "Back to the default: customers see it now.",
    "restored": "Rolled back: customers see the restored version now.",
}
# A starting point for a tenant with no template of its own yet.
STARTERS = files("tracee") / "templates" / "page_starters"
_LINE = re.compile(r"^line (\d+): ")


def _editor_path(request, context) -> str:
    return dashboard_path(request, context.tenant.slug, "settings", "page-templates",
                          context.kind)


def _posted_source(request) -> str:
    # Browsers send a text area's line breaks as CRLF; the API's authors send LF.
    return request.POST.get("source", "").replace("\r\n", "\n")


def _source_error(message: str, source: str) -> dict:
    """The error beside the text area, and the line it names, as written."""
    found = _LINE.match(message)
    lines = source.split("\n")
    line = int(found.group(1)) if found else None
    excerpt = lines[line - 1][:200] if line and line <= len(lines) else None
    return {"source": message[:1].upper() + message[1:], "line": line, "excerpt": excerpt,
            "form": NOTHING_SAVED}


@view_config(route_name="dashboard", context=PageTemplatesSection, permission=VIEW,
             request_method="GET", renderer=TEMPLATES + "page_templates.jinja2")
def overview(context, request):
    states = [pages.state(request.db, context.tenant.id, kind) for kind in pages.KINDS]
    return page(context, request, "page_templates", states=states, kind_names=KIND_NAMES)


def _editor(context, request, source: str | None = None, errors: dict | None = None,
            preview_html: str | None = None, notice: str | None = None) -> dict:
    found = pages.state(request.db, context.tenant.id, context.kind)
    shown = None
    version_id = as_id(request.GET.get("version", ""))
    if version_id is not None:
        shown = next((v for v in found.versions if v.version == version_id), None)
    starter = False
    if source is None:
        if shown is not None:
            source = shown.source or ""
        elif found.in_force is not None:
            source = found.in_force.source
        else:
            source, starter = (STARTERS / f"{context.kind}.html").read_text(), True
    return page(
        context, request, "page_templates", kind=context.kind, kind_name=KIND_NAMES[context.kind],
        state=found, source=source, starter=starter, shown=shown, errors=errors or {},
        preview_html=preview_html, authors=actor_names(request.db, context.tenant.id),
        notice=notice, can_edit=request.has_permission(EDIT_SETTINGS, context),
        editor_path=_editor_path(request, context), max_kb=MAX_SOURCE_BYTES // 1024,
    )


@view_config(route_name="dashboard", context=PageTemplateNode, permission=VIEW,
             request_method="GET", renderer=TEMPLATES + "page_template.jinja2")
def editor(context, request):
    return _editor(context, request, notice=DONE.get(request.GET.get("done", "")))


@view_config(route_name="dashboard", context=PageTemplateNode, permission=EDIT_SETTINGS,
             request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "page_template.jinja2")
def preview_or_publish(context, request):
    """One form, two buttons: Preview (the default, saves nothing) and Publish."""
    source = _posted_source(request)
    tenant_id = context.tenant.id
    try:
        if request.POST.get("action") == "publish":
            pages.publish(request.db, tenant_id, context.kind, source, by=person(request.login))
            return HTTPFound(_editor_path(request, context) + "?done=published")
        html = preview(request, tenant_id, source)
    except (TemplateRefused, RenderError) as exc:
        request.response.status = 400
        return _editor(context, request, source=source, errors=_source_error(str(exc), source))
    return _editor(context, request, source=source, preview_html=html)


@view_config(route_name="dashboard", context=PageTemplateNode, name="reset",
             permission=EDIT_SETTINGS, request_method="POST", require_csrf=True)
def reset(context, request):
    pages.reset(request.db, context.tenant.id, context.kind, by=person(request.login))
    return HTTPFound(_editor_path(request, context) + "?done=reset")


@view_config(route_name="dashboard", context=PageTemplateNode, name="restore",
             permission=EDIT_SETTINGS, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "page_template.jinja2")
def restore(context, request):
    version = as_id(request.POST.get("version", ""))
    try:
        if version is None:
            raise pages.NoSuchVersion(version)
        pages.restore(request.db, context.tenant.id, context.kind, version,
                      by=person(request.login))
    except pages.NoSuchVersion:
        problem = "There is no such version to roll back to: reload the page and try again."
    except TemplateRefused as exc:
        problem = (f"Version {version} cannot be restored: it breaks a rule added since it "
                   f"was published ({exc}).")
    else:
        return HTTPFound(_editor_path(request, context) + "?done=restored")
    request.response.status = 400
    return _editor(context, request, errors={"versions": problem})
