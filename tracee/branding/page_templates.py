"""Tenants' own tracking and embed templates: publishing, history, rollback, rendering.

Every change appends a version (append-only, so the list is the history and
a rollback is a new version with an old source); the newest is in force.
What a template sees is :func:`template_context`, plain data only. A render
that fails or runs over its budget (tracee.branding.sandbox) is recorded on
the version for its author, and the caller serves the built-in page.
"""

from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update

from tracee.branding.acquisition import read_own_templates
from tracee.branding.models import PageTemplate
from tracee.branding.sandbox import RenderError, TemplateRefused, compile_source, render
from tracee.branding.service import bump_branding_version, tenant_chain
from tracee.db import utcnow
from tracee.tenancy.scope import visiting

KINDS = ("tracking", "embed")


class NoSuchVersion(LookupError):
    pass


def history(session) -> list[PageTemplate]:
    """The bound tenant's versions of every kind, newest first."""
    return list(session.scalars(
        select(PageTemplate).order_by(PageTemplate.kind, PageTemplate.version.desc())))


def versions(session, kind: str) -> list[PageTemplate]:
    return [v for v in history(session) if v.kind == kind]


def current(session, kind: str) -> PageTemplate | None:
    return next(iter(versions(session, kind)), None)


@dataclass(frozen=True)
class TemplateState:
    """Which template a tenant's page of one kind is in force, and its history."""

    kind: str
    versions: list  # the tenant's own, newest first
    agency: object | None  # the nearest agency (a Tenant) with a template of this kind

    @property
    def in_force(self) -> PageTemplate | None:
        """The tenant's own version in force (None: the agency's, else the built-in page)."""
        newest = next(iter(self.versions), None)
        return newest if newest is not None and newest.source is not None else None

    @property
    def inherited_from(self):
        """The agency whose template applies, for want of one of the tenant's own."""
        return self.agency if self.in_force is None else None

    @property
    def last_error(self) -> PageTemplate | None:
        """The newest version that failed on a customer's page."""
        return next((v for v in self.versions if v.render_error), None)


def state(session, tenant_id: int, kind: str) -> TemplateState:
    agency = None
    for above in tenant_chain(session, tenant_id)[1:]:
        _version, source = read_own_templates(session, above.id).get(kind, (None, None))
        if source is not None:
            agency = above
            break
    return TemplateState(kind, versions(session, kind), agency)


def _append(session, tenant_id: int, kind: str, source: str | None,
            restored_from: int | None = None, by=None) -> PageTemplate:
    newest = session.scalar(select(func.max(PageTemplate.version))
                            .where(PageTemplate.kind == kind)) or 0
    row = PageTemplate(kind=kind, version=newest + 1, source=source, restored_from=restored_from,
                       created_at=utcnow(), published_by=by.label if by else None)
    session.add(row)
    session.flush()
    bump_branding_version(session, tenant_id)
    return row


def publish(session, tenant_id: int, kind: str, source: str, by=None) -> PageTemplate:
    """A new version in force; TemplateRefused (with its line) if the source is not safe.
    ``by`` is the Actor, as for trackers."""
    compile_source(source)
    return _append(session, tenant_id, kind, source, by=by)


def reset(session, tenant_id: int, kind: str, by=None) -> PageTemplate:
    """Back to the default: the agency's template if it has one, else the built-in page."""
    return _append(session, tenant_id, kind, None, by=by)


def restore(session, tenant_id: int, kind: str, version: int, by=None) -> PageTemplate:
    old = session.scalar(select(PageTemplate).where(PageTemplate.kind == kind,
                                                    PageTemplate.version == version))
    if old is None:
        raise NoSuchVersion(version)
    if old.source is not None:
        compile_source(old.source)  # the rules may have tightened since it was saved
    return _append(session, tenant_id, kind, old.source, restored_from=version, by=by)


_pages = PageTemplate.__table__
_RECORD_ERROR = (
    update(_pages)
    .where(_pages.c.tenant_id == bindparam("owner"), _pages.c.kind == bindparam("page_kind"),
           _pages.c.version == bindparam("page_version"))
    .values(render_error=bindparam("error"), render_error_at=bindparam("at"))
)


def record_render_error(session, owner_id: int, kind: str, version: int, message: str) -> None:
    """Note on the version that failed what went wrong, for its author (maybe an agency)."""
    with visiting(session, owner_id):
        session.connection().execute(_RECORD_ERROR, {
            "owner": owner_id, "page_kind": kind, "page_version": version,
            "error": message[:500], "at": utcnow()})


# --- rendering -------------------------------------------------------------------------


@dataclass
class _Compiled:
    template: object | None  # None: refused or over budget; the default page is served
    recorded: str | None = None  # the last error this worker recorded for the version


class CompiledTemplates:
    """Per worker: compiled templates by owner, kind, version and source (a tenant
    id used again after a delete must not find another tenant's template)."""

    def __init__(self, max_entries: int = 500):
        self.max_entries = max_entries
        self._entries: OrderedDict = OrderedDict()

    def get(self, owner_id: int, kind: str, version: int, source: str) -> _Compiled:
        key = (owner_id, kind, version, source)
        entry = self._entries.get(key)
        if entry is None:
            try:
                entry = _Compiled(compile_source(source))
            except TemplateRefused:  # saved under rules that have tightened since
                entry = _Compiled(None)
            self._entries[key] = entry
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return entry


def template_context(view: dict, brand, urls: dict, style_nonce: str) -> dict:
    """The documented, plain-data view a tenant template sees (docs/page-templates.md)."""

    iso = view["iso"]

    def step(s):
        return {"name": s.name, "label": s.label, "description": s.description,
                "status": s.status, "status_label": s.status_label,
                "started_at": iso(s.started_at), "completed_at": iso(s.completed_at)}

    steps = [step(s) for s in view["steps"]]
    current = next((s for s in reversed(steps) if s["status"] == "in_progress"), None)
    tracker = view["tracker"]
    values = {k: v for k, v in brand.values.items() if k != "steps"}
    return {
        "tracker": {
            "name": tracker.name, "number": tracker.number, "steps": steps,
            "current_step": current, "is_completed": view["is_completed"],
            "headline": view["headline"], "steps_done": view["done"],
            "steps_total": view["total"], "updated_at": view["iso"](view["updated_at"]),
            "estimated_ready_at": iso(view["estimate"].ready_at),
            "is_late": view["estimate"].late,
        },
        "brand": {"display_name": brand.display_name, **values},
        "lang": view["lang"],  # the page's language, for <html lang> and the tenant's own text
        "urls": urls,
        # For <style nonce="..."> blocks: the page's CSP admits no other inline style
        # (and no script at all, whatever the template writes).
        "style_nonce": style_nonce,
    }


def render_custom(request, presentation, kind: str, context: dict) -> str | None:
    """The tenant template's page, or None when the built-in page must be served."""
    found = presentation.templates.get(kind)
    if found is None:
        return None
    owner_id, version, source = found
    entry = request.registry["branding.compiled"].get(owner_id, kind, version, source)
    if entry.template is None:
        return None
    try:
        return render(entry.template, context)
    except RenderError as exc:
        if exc.transient:  # the server's moment, not the template's fault: the default page
            return None
        message = str(exc)
        if exc.over_budget:
            entry.template = None  # over budget once is over budget always: stop trying
        if entry.recorded != message:
            record_render_error(request.db, owner_id, kind, version, message)
            entry.recorded = message
        return None


def includeme(config):
    config.registry["branding.compiled"] = CompiledTemplates()


__all__ = ["KINDS", "NoSuchVersion", "RenderError", "TemplateRefused", "TemplateState"]
