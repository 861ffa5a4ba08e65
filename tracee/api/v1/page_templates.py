"""/branding/templates/{kind}: a tenant's own tracking or embed page template.

Sandboxed and budgeted (tracee.branding.sandbox); the context a template
sees is documented in docs/page-templates.md.
"""

import colander

from tracee.api.errors import api_error
from tracee.api.openapi import operation
from tracee.api.schemas import StrictString, json_body, path_id
from tracee.api.v1.representation import iso
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import PAGE_TEMPLATE_EXAMPLE, ref
from tracee.branding import page_templates as pages
from tracee.branding.sandbox import MAX_SOURCE_BYTES

page_template = api_service("page_template", "/branding/templates/{kind}")
template_versions = api_service("page_template_versions", "/branding/templates/{kind}/versions")
restore_version = api_service("page_template_restore",
                              "/branding/templates/{kind}/versions/{version}/restore")

# Room for a 64 KB source even when JSON escapes every character of it.
MAX_BODY = MAX_SOURCE_BYTES * 6 + 1024


class TemplateSource(colander.MappingSchema):
    source = colander.SchemaNode(
        StrictString(), validator=colander.Length(max=MAX_SOURCE_BYTES),
        description="a Jinja2 template, at most 64 KB; autoescaped, sandboxed")


def _kind(request) -> str:
    kind = request.matchdict["kind"]
    if kind not in pages.KINDS:
        raise api_error(404, "no such page: tracking or embed", location="path", name="kind")
    return kind


def _state(request, kind: str) -> dict:
    found = pages.state(request.db, request.context.tenant_id, kind)
    in_force, failed = found.in_force, found.last_error
    return {
        "kind": kind,
        "version": in_force.version if in_force else None,
        "source": in_force.source if in_force else None,
        "inherited_from": found.inherited_from.slug if found.inherited_from else None,
        "last_render_error": None if failed is None else {
            "version": failed.version, "message": failed.render_error,
            "at": iso(failed.render_error_at)},
    }


def _refused(exc):
    return api_error(400, str(exc), name="source")


@page_template.get()
@operation(200, ref("PageTemplate"), "Get a page template", example=PAGE_TEMPLATE_EXAMPLE,
           tag="branding")
def read(request):
    """The tenant's own template in force (null: none of its own), the agency whose
    template applies instead, if any, and the last error a customer's page met."""
    return _state(request, _kind(request))


@page_template.put(validators=(json_body(TemplateSource(), max_bytes=MAX_BODY),))
@operation(200, ref("PageTemplate"), "Publish a page template", example=PAGE_TEMPLATE_EXAMPLE,
           tag="branding", request_example={"source": "<h1>{{ tracker.name }}</h1>"})
def publish(request):
    """A new version, in force at once. A template that is not safe (private names,
    includes, `|safe`, unknown filters, syntax errors) is refused with its line."""
    kind = _kind(request)
    try:
        pages.publish(request.db, request.context.tenant_id, kind, request.validated["source"],
                      by=request.context.actor)
    except pages.TemplateRefused as exc:
        raise _refused(exc) from None
    return _state(request, kind)


@page_template.delete()
@operation(200, ref("PageTemplate"), "Go back to the default page", tag="branding")
def delete(request):
    """A new version without a source: the agency's template applies again, else the
    built-in page. Earlier versions stay in the list and can be restored."""
    kind = _kind(request)
    pages.reset(request.db, request.context.tenant_id, kind, by=request.context.actor)
    return _state(request, kind)


@template_versions.get()
@operation(200, {"type": "array", "items": ref("PageTemplateVersion")},
           "List page template versions", tag="branding")
def list_versions(request):
    """Every version, newest first; `source` null is a return to the default."""
    return [
        {"version": v.version, "source": v.source, "created_at": iso(v.created_at),
         "restored_from": v.restored_from, "render_error": v.render_error,
         "render_error_at": iso(v.render_error_at)}
        for v in pages.versions(request.db, _kind(request))
    ]


@restore_version.post()
@operation(200, ref("PageTemplate"), "Restore a page template version", tag="branding")
def restore(request):
    """Publishes the source of an earlier version again, as a new version."""
    kind = _kind(request)
    version = path_id(request, "version")
    try:
        pages.restore(request.db, request.context.tenant_id, kind, version,
                      by=request.context.actor)
    except pages.NoSuchVersion:
        raise api_error(404, "no such version", location="path", name="version") from None
    except pages.TemplateRefused as exc:
        raise _refused(exc) from None
    return _state(request, kind)
