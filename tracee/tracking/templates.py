"""Finding and creating workflow templates: built-ins plus the tenant's own."""

from sqlalchemy import select

from tracee.tenancy.scope import bound_tenant
from tracee.text import InvalidName, clean_name, name_key
from tracee.tracking.builtin_templates import BUILTIN_TEMPLATES, StepSpec, TemplateSpec
from tracee.tracking.models import TemplateStep, WorkflowTemplate


class TemplateExists(ValueError):
    pass


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
    steps = tuple(StepSpec(s.name, s.visible) for s in row.steps)
    return TemplateSpec(row.slug, row.name, steps, builtin=False)


def find_template(session, slug: str) -> TemplateSpec | None:
    if slug in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[slug]
    row = session.get(WorkflowTemplate, (bound_tenant(session), slug))
    return _as_spec(row) if row is not None else None


def list_templates(session) -> list[TemplateSpec]:
    own = session.scalars(select(WorkflowTemplate).order_by(WorkflowTemplate.slug))
    return [*BUILTIN_TEMPLATES.values(), *(_as_spec(row) for row in own)]


def create_template(session, slug: str, name: str, steps: list[StepSpec]) -> TemplateSpec:
    """A tenant's template; its names are stored under the rules of tracee.text, and
    two steps that look alike are refused rather than kept as two."""
    name = _named("name", name)
    steps = [StepSpec(_named(f"steps.{i}.name", s.name), s.visible) for i, s in enumerate(steps)]
    if len({name_key(s.name) for s in steps}) != len(steps):
        raise InvalidTemplate("steps", "step names must be distinct")
    if find_template(session, slug) is not None:
        raise TemplateExists(slug)
    row = WorkflowTemplate(
        slug=slug,
        name=name,
        steps=[
            TemplateStep(position=i, name=s.name, visible=s.visible)
            for i, s in enumerate(steps, start=1)
        ],
    )
    session.add(row)
    session.flush()
    return _as_spec(row)
