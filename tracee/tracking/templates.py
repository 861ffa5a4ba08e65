"""Finding, creating and changing workflow templates: built-ins plus the tenant's own.

A tracker copies its template's steps when it is created, so changing a
template changes only the trackers created after.
"""

from sqlalchemy import select

from tracee.tenancy.scope import bound_tenant
from tracee.tenancy.service import SLUG_RE
from tracee.text import InvalidName, clean_name, name_key
from tracee.tracking.builtin_templates import BUILTIN_TEMPLATES, StepSpec, TemplateSpec
from tracee.tracking.estimates import MAX_EXPECTED_MINUTES
from tracee.tracking.models import TemplateStep, WorkflowTemplate

MAX_STEPS = 50
SLUG_MAX = 63


class TemplateExists(ValueError):
    pass


class NotEditable(ValueError):
    """A built-in template: it can be duplicated, not changed."""


class InvalidTemplate(ValueError):
    """A name the text rules refuse, or two steps that are the same name; ``field`` says where."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _named(field: str, text: str) -> str:
    try:
        return clean_name(text)
    except InvalidName as exc:
        raise InvalidTemplate(field, f"{field} {exc}") from None


def _as_spec(row: WorkflowTemplate) -> TemplateSpec:
    steps = tuple(StepSpec(s.name, s.visible, s.expected_minutes) for s in row.steps)
    return TemplateSpec(row.slug, row.name, steps, builtin=False)


def find_template(session, slug: str) -> TemplateSpec | None:
    if slug in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[slug]
    row = session.get(WorkflowTemplate, (bound_tenant(session), slug))
    return _as_spec(row) if row is not None else None


def list_templates(session) -> list[TemplateSpec]:
    own = session.scalars(select(WorkflowTemplate).order_by(WorkflowTemplate.slug))
    return [*BUILTIN_TEMPLATES.values(), *(_as_spec(row) for row in own)]


def _checked_steps(steps: list[StepSpec]) -> list[StepSpec]:
    if not 1 <= len(steps) <= MAX_STEPS:
        raise InvalidTemplate("steps", f"a template has 1 to {MAX_STEPS} steps")
    steps = [StepSpec(_named(f"steps.{i}.name", s.name), s.visible,
                      _expected(f"steps.{i}.expected_minutes", s.expected_minutes))
             for i, s in enumerate(steps)]
    if len({name_key(s.name) for s in steps}) != len(steps):
        raise InvalidTemplate("steps", "step names must be distinct")
    return steps


def _expected(field: str, minutes: int | None) -> int | None:
    if minutes is not None and not 1 <= minutes <= MAX_EXPECTED_MINUTES:
        raise InvalidTemplate(field, f"{field} must be 1 to {MAX_EXPECTED_MINUTES} minutes")
    return minutes


def _rows(steps: list[StepSpec]) -> list[TemplateStep]:
    return [TemplateStep(position=i, name=s.name, visible=s.visible,
                         expected_minutes=s.expected_minutes)
            for i, s in enumerate(steps, start=1)]


def create_template(session, slug: str, name: str, steps: list[StepSpec]) -> TemplateSpec:
    """A tenant's template; its names are stored under the rules of tracee.text, and
    two steps that look alike are refused rather than kept as two."""
    if len(slug) > SLUG_MAX or not SLUG_RE.match(slug):
        raise InvalidTemplate("slug", "slug must be lower-case letters, digits and single "
                                      f"hyphens, at most {SLUG_MAX} characters")
    name = _named("name", name)
    steps = _checked_steps(steps)
    if find_template(session, slug) is not None:
        raise TemplateExists(slug)
    row = WorkflowTemplate(slug=slug, name=name, steps=_rows(steps))
    session.add(row)
    session.flush()
    return _as_spec(row)


def update_template(session, slug: str, name: str, steps: list[StepSpec]) -> TemplateSpec:
    """Rename the tenant's template ``slug`` and replace its steps, in the order given.

    Trackers already created from it keep their own copy of the steps.
    """
    row = session.get(WorkflowTemplate, (bound_tenant(session), slug))
    if row is None:
        raise NotEditable(slug)
    name = _named("name", name)
    steps = _checked_steps(steps)
    row.name = name
    row.steps.clear()
    session.flush()  # the old positions go before the new ones take them
    row.steps.extend(_rows(steps))
    session.flush()
    return _as_spec(row)


def duplicate_template(session, source: str, slug: str, name: str) -> TemplateSpec:
    """A tenant's own copy of ``source`` (built-in or own), to edit from there."""
    spec = find_template(session, source)
    if spec is None:
        raise InvalidTemplate("source", f"no template {source!r}")
    return create_template(session, slug, name, list(spec.steps))
