"""/templates/: the built-in workflows and the tenant's own."""

import colander

from tracee.api.errors import api_error
from tracee.api.openapi import operation
from tracee.api.schemas import (
    SLUG_RE,
    StrictBoolean,
    StrictInteger,
    json_body,
    slug_node,
    text_node,
)
from tracee.api.v1.representation import template_json
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import TEMPLATE_EXAMPLE, ref
from tracee.text import name_key
from tracee.tracking.builtin_templates import StepSpec
from tracee.tracking.estimates import MAX_EXPECTED_MINUTES
from tracee.tracking.templates import (
    MAX_STEPS,
    InvalidTemplate,
    TemplateExists,
    create_template,
    find_template,
    list_templates,
)

templates = api_service("templates", "/templates")
template = api_service("template", "/templates/{slug}")


class StepSchema(colander.MappingSchema):
    name = text_node(200)
    visible = colander.SchemaNode(StrictBoolean(), missing=True)
    expected_minutes = colander.SchemaNode(
        StrictInteger(), missing=None, validator=colander.Range(1, MAX_EXPECTED_MINUTES),
        description="how long the step usually takes, for the customer's estimate")


def _distinct_names(node, steps):
    names = [name_key(s["name"]) for s in steps]
    if len(set(names)) != len(names):
        raise colander.Invalid(node, "step names must be distinct")


# JSON Schema cannot compare names once folded; uniqueItems is the nearest it says.
_distinct_names.json_schema = {
    "uniqueItems": True, "description": "step names are distinct, ignoring case and spacing",
}


class TemplateCreate(colander.MappingSchema):
    slug = slug_node()
    name = text_node(200)
    steps = colander.SchemaNode(
        colander.Sequence(),
        StepSchema(),
        validator=colander.All(
            colander.Length(min=1, max=MAX_STEPS, min_err="must list at least one step",
                            max_err=f"must list at most {MAX_STEPS} steps"),
            _distinct_names,
        ),
    )


@templates.get()
@operation(200, {"type": "array", "items": ref("Template")}, "List templates",
           example=[TEMPLATE_EXAMPLE])
def list_all(request):
    """The built-in workflows and the tenant's own."""
    return [template_json(t) for t in list_templates(request.db)]


@templates.post(validators=(json_body(TemplateCreate()),))
@operation(201, ref("Template"), "Create a template", headers=("Location",),
           others={409: "the slug is taken"})
def create(request):
    """A workflow of the tenant's own; step names are distinct, ignoring case and spacing."""
    data = request.validated
    steps = [StepSpec(s["name"], s["visible"], s["expected_minutes"]) for s in data["steps"]]
    try:
        spec = create_template(request.db, data["slug"], data["name"], steps)
    except TemplateExists:
        raise api_error(409, f"template {data['slug']!r} already exists", name="slug") from None
    except InvalidTemplate as exc:  # the schema refuses these first; the domain holds the rule
        raise api_error(400, str(exc), name=exc.field) from None
    request.response.status = 201
    request.response.location = request.urls.base + f"/api/v1/templates/{spec.slug}/"
    return template_json(spec)


@template.get()
@operation(200, ref("Template"), "Get a template", example=TEMPLATE_EXAMPLE)
def read(request):
    slug = request.matchdict["slug"]
    # A malformed slug names no template; it never reaches the database.
    spec = find_template(request.db, slug) if SLUG_RE.match(slug) and len(slug) <= 63 else None
    if spec is None:
        raise api_error(404, "no such template", location="path", name="slug")
    return template_json(spec)
