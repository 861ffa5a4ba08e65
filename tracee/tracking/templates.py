"""Finding and creating workflow templates: built-ins plus the tenant's own."""

from sqlalchemy import select

from tracee.tenancy.scope import bound_tenant
from tracee.tracking.builtin_templates import BUILTIN_TEMPLATES, StepSpec, TemplateSpec
from tracee.tracking.models import TemplateStep, WorkflowTemplate


class TemplateExists(ValueError):
    pass


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
