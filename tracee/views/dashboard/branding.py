"""Settings -> Branding: the theme's values, the logo and favicon, and a preview.

Saving goes through tracee.branding.service.update_theme, as the API's PUT
does: the same rules, the same WCAG check, the same branding-version bump
that tells every worker's caches. Uploads are re-encoded by
tracee.branding.images and kept by tracee.branding.assets.
"""

from pyramid.csrf import check_csrf_origin, check_csrf_token
from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_SETTINGS, VIEW
from tracee.branding.assets import THEME_FIELDS, upload_image
from tracee.branding.images import MAX_UPLOAD_BYTES, ImageRefused
from tracee.branding.service import own_values, tenant_chain, update_theme
from tracee.branding.theme import FONTS, MAX_RADIUS, ThemeError, effective_values
from tracee.tracking.templates import list_templates
from tracee.views.dashboard.branding_form import (
    NOTHING_SAVED,
    build_rows,
    build_step_rows,
    humanise,
    inherited_values,
    read_post,
)
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import DASHBOARD_CSP, BrandingSection, dashboard_path

PAGE = TEMPLATES + "branding.jinja2"
# The page frames its own preview (same origin), and shows a logo set by URL
# (https, as the tracking page does); nothing else changes.
PAGE_CSP = DASHBOARD_CSP.replace("default-src 'none';", "default-src 'none'; frame-src 'self';") \
    .replace("img-src 'self' data:", "img-src 'self' https: data:")
# A file at the cap plus the form's few small fields: a larger body is refused
# from its Content-Length before any of it is parsed.
UPLOAD_BODY_LIMIT = MAX_UPLOAD_BYTES + 16 * 1024


class Theme:
    """The tenant's chain and its theme values, read once per request."""

    def __init__(self, request, context):
        self.tenant = context.tenant
        self.chain = tenant_chain(request.db, self.tenant.id)
        self.values = [own_values(request.db, t) for t in self.chain]
        self.own = self.values[0]
        self.inherited = inherited_values([t.name for t in self.chain], self.values)
        self.effective = effective_values(self.values)
        # Step labels as the agencies above give them: shown where the tenant sets none.
        self.inherited_steps = effective_values(self.values[1:])["steps"]

    def step_rows(self, request):
        return build_step_rows(list_templates(request.db), self.own.get("steps"),
                               self.inherited_steps)


def _page(context, request, theme: Theme, posted=None, errors=None, **values) -> dict:
    request.dashboard_headers = {"Content-Security-Policy": PAGE_CSP}
    step_rows = posted.step_rows if posted is not None else theme.step_rows(request)
    return page(
        context, request, "branding",
        can_edit=bool(request.has_permission(EDIT_SETTINGS, context)),
        rows=build_rows(theme.own, theme.inherited, posted.values if posted else None),
        step_rows=step_rows, fonts=FONTS, max_radius=MAX_RADIUS,
        display_name=posted.display_name if posted else theme.tenant.name,
        images=[{"kind": kind, "name": name, "own": theme.own.get(name),
                 "inherited": theme.inherited[name]} for kind, name in THEME_FIELDS.items()],
        errors=errors or {}, max_upload_kb=MAX_UPLOAD_BYTES // 1024,
        preview_url=dashboard_path(request, theme.tenant.slug, "settings", "branding")
        + "preview", **values)


@view_config(route_name="dashboard", context=BrandingSection, permission=VIEW,
             request_method="GET", renderer=PAGE)
def branding(context, request):
    return _page(context, request, Theme(request, context), saved=request.GET.get("saved"))


@view_config(route_name="dashboard", context=BrandingSection, permission=EDIT_SETTINGS,
             request_method="POST", require_csrf=True, renderer=PAGE)
def save(context, request):
    theme = Theme(request, context)
    posted = read_post(request.POST, theme.step_rows(request), theme.own.get("steps"))
    errors = dict(posted.errors)
    if not errors:
        try:
            update_theme(request.db, theme.tenant.id, posted.changes)
        except ThemeError as exc:
            errors = {exc.field.split(".")[0]: humanise(str(exc)), "form": NOTHING_SAVED}
    if errors:
        request.response.status = 400
        return _page(context, request, theme, posted, errors)
    theme.tenant.name = posted.display_name
    return HTTPFound(dashboard_path(request, theme.tenant.slug, "settings", "branding")
                     + "?saved=theme")


def _upload_refusal(request) -> tuple[int, str] | None:
    """Why the body must not be read at all, judged from its headers alone."""
    length = request.content_length
    if length is None:
        return 411, "The upload did not say how large it is; try again from this page."
    if length > UPLOAD_BODY_LIMIT:
        return 413, f"The file is larger than {MAX_UPLOAD_BYTES // 1024} KB."
    return None


@view_config(route_name="dashboard", context=BrandingSection, name="logo",
             permission=EDIT_SETTINGS, request_method="POST", renderer=PAGE)
@view_config(route_name="dashboard", context=BrandingSection, name="favicon",
             permission=EDIT_SETTINGS, request_method="POST", renderer=PAGE)
def upload(context, request):
    kind = request.view_name
    name = THEME_FIELDS[kind]
    refusal = _upload_refusal(request)
    if refusal is None:
        # Checked here rather than by require_csrf, which would parse the body first.
        if request.scheme == "https":
            check_csrf_origin(request)
        check_csrf_token(request)
    theme = Theme(request, context)
    try:
        if refusal is not None:
            status, message = refusal
            raise ImageRefused(message)
        if request.POST.get("clear"):
            update_theme(request.db, theme.tenant.id, {name: None})
        else:
            upload = request.POST.get("file")
            data = upload.file.read(MAX_UPLOAD_BYTES + 1) if hasattr(upload, "file") else b""
            upload_image(request.db, theme.tenant.id, kind, data)
    except (ImageRefused, ThemeError) as exc:
        request.response.status = refusal[0] if refusal else 400
        return _page(context, request, theme, errors={kind: humanise(str(exc))})
    return HTTPFound(dashboard_path(request, theme.tenant.slug, "settings", "branding")
                     + f"?saved={kind}#{kind}")
