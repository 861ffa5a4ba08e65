"""Settings -> Workflow templates: built-in and own, create, edit the steps, duplicate.

Every change goes through tracee.tracking.templates, the API's functions.
The step editor is one plain form: names, "visible to customers", an order
number, "remove", a blank row to add one, and Move up / Move down buttons
that submit the whole form; it needs no JavaScript.
"""

from dataclasses import dataclass

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from tracee.accounts.permissions import EDIT_SETTINGS, VIEW
from tracee.accounts.signup import slug_from
from tracee.tracking.builtin_templates import StepSpec
from tracee.tracking.estimates import MAX_EXPECTED_MINUTES
from tracee.tracking.templates import (
    MAX_STEPS,
    InvalidTemplate,
    TemplateExists,
    create_template,
    duplicate_template,
    list_templates,
    update_template,
)
from tracee.views.dashboard.pages import TEMPLATES, page
from tracee.views.dashboard.resources import TemplateNode, TemplatesSection, dashboard_path

NOTHING_SAVED = "Nothing was saved: correct the fields marked below."


def _template_path(request, context, slug: str) -> str:
    return dashboard_path(request, context.tenant.slug, "settings", "workflow-templates", slug)


def _field_errors(exc: InvalidTemplate) -> dict:
    """The domain's field (``steps.3.name``) as the form's (``step-3``, ``step-3-hours``)."""
    parts = exc.field.split(".")
    key = f"step-{parts[1]}" if parts[0] == "steps" and len(parts) == 3 else exc.field
    message = str(exc)
    if key.startswith("step-") and parts[2] == "expected_minutes":
        key, message = key + "-hours", "Expected hours must be more than 0 and at most " \
            f"{MAX_EXPECTED_MINUTES // 60}"
    elif key.startswith("step-"):
        message = "Step name " + message.split(" ", 1)[1]
    return {key: message[0].upper() + message[1:] + ".", "form": NOTHING_SAVED}


def _minutes(hours: str, index: int) -> int | None:
    """The editor's "expected hours" (blank: none) as the minutes a step stores."""
    if not hours.strip():
        return None
    try:
        value = float(hours.replace(",", "."))
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_EXPECTED_MINUTES / 60:
        raise InvalidTemplate(f"steps.{index}.expected_minutes", "out of range")
    return max(1, round(value * 60))


@view_config(route_name="dashboard", context=TemplatesSection, permission=VIEW,
             request_method="GET", renderer=TEMPLATES + "templates.jinja2")
def templates(context, request):
    return page(context, request, "templates", templates=list_templates(request.db),
                can_edit=request.has_permission(EDIT_SETTINGS, context))


# --- a new template --------------------------------------------------------------


@view_config(route_name="dashboard", context=TemplatesSection, name="new",
             permission=EDIT_SETTINGS, request_method="GET",
             renderer=TEMPLATES + "template_new.jinja2")
def new_template_form(context, request):
    return page(context, request, "templates", values={}, errors={})


@view_config(route_name="dashboard", context=TemplatesSection, name="new",
             permission=EDIT_SETTINGS, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "template_new.jinja2")
def new_template(context, request):
    values = {k: request.POST.get(k, "")[:10_000] for k in ("name", "slug", "steps")}
    slug = values["slug"].strip() or slug_from(values["name"])
    steps = [StepSpec(line) for line in values["steps"].splitlines() if line.strip()]
    try:
        spec = create_template(request.db, slug, values["name"], steps)
    except InvalidTemplate as exc:
        errors = _field_errors(exc)
        for key in [k for k in errors if k.startswith("step-")]:
            errors["steps"] = errors.pop(key)  # one text area holds every step
        request.response.status = 400
        return page(context, request, "templates", values=values, errors=errors)
    except TemplateExists:
        request.response.status = 400
        return page(context, request, "templates", values=values, errors={
            "slug": f"There is already a template “{slug}”: choose another slug."})
    return HTTPFound(_template_path(request, context, spec.slug))


# --- one template: read, edit, duplicate -------------------------------------------


@dataclass
class Row:
    name: str
    visible: bool
    hours: str = ""  # as typed: blank, or hours with decimals (0.5 is half an hour)

    @classmethod
    def of(cls, step: StepSpec) -> "Row":
        minutes = step.expected_minutes
        return cls(step.name, step.visible, "" if minutes is None else f"{minutes / 60:g}")


def _posted_rows(post) -> tuple[list[Row], str | None]:
    """The editor's rows in their new order, and an error if the form was not ours."""
    try:
        count = int(post.get("count", ""))
    except ValueError:
        return [], "The form was incomplete; reload the page and try again."
    ordered = []
    for i in range(min(max(count, 0), MAX_STEPS)):
        if post.get(f"step-{i}-remove"):
            continue
        try:
            order = float(post.get(f"step-{i}-order", "") or i + 1)
        except ValueError:
            order = i + 1
        ordered.append((order, i, Row(post.get(f"step-{i}-name", "")[:1000],
                                      bool(post.get(f"step-{i}-visible")),
                                      post.get(f"step-{i}-hours", "")[:20])))
    rows = [row for _, _, row in sorted(ordered, key=lambda t: t[:2])]
    move = post.get("move", "")
    index, _, direction = move.partition(":")
    if index.isdigit() and int(index) < len(rows) and direction in ("up", "down"):
        i = int(index)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(rows):
            rows[i], rows[j] = rows[j], rows[i]
    new_name = post.get("new-name", "")[:1000]
    if new_name.strip():
        rows.append(Row(new_name, bool(post.get("new-visible")), post.get("new-hours", "")[:20]))
    return rows, None


def _template_page(context, request, **values) -> dict:
    spec = context.template
    values.setdefault("name", spec.name)
    values.setdefault("rows", [Row.of(s) for s in spec.steps])
    values.setdefault("errors", {})
    return page(context, request, "templates", template=spec,
                   can_edit=request.has_permission(EDIT_SETTINGS, context),
                   max_steps=MAX_STEPS, **values)


@view_config(route_name="dashboard", context=TemplateNode, permission=VIEW,
             request_method="GET", renderer=TEMPLATES + "template.jinja2")
def template_page(context, request):
    return _template_page(context, request, saved="saved" in request.GET)


@view_config(route_name="dashboard", context=TemplateNode, permission=EDIT_SETTINGS,
             request_method="POST", require_csrf=True, renderer=TEMPLATES + "template.jinja2")
def edit_template(context, request):
    if context.template.builtin:
        request.response.status = 400
        return _template_page(context, request, errors={
            "form": "A built-in template cannot be changed: duplicate it and edit the copy."})
    name = request.POST.get("name", "")[:1000]
    rows, problem = _posted_rows(request.POST)
    errors = {"form": problem} if problem else {}
    if not errors:
        try:
            update_template(request.db, context.template.slug, name,
                            [StepSpec(r.name, r.visible, _minutes(r.hours, i))
                             for i, r in enumerate(rows)])
        except InvalidTemplate as exc:
            errors = _field_errors(exc)
    if errors:
        request.response.status = 400
        return _template_page(context, request, name=name, rows=rows, errors=errors)
    return HTTPFound(_template_path(request, context, context.template.slug) + "?saved=1")


@view_config(route_name="dashboard", context=TemplateNode, name="duplicate",
             permission=EDIT_SETTINGS, request_method="GET",
             renderer=TEMPLATES + "template_duplicate.jinja2")
def duplicate_form(context, request):
    spec = context.template
    values = {"name": f"{spec.name} (copy)", "slug": f"{spec.slug}-copy"[:63]}
    return page(context, request, "templates", template=spec, values=values, errors={})


@view_config(route_name="dashboard", context=TemplateNode, name="duplicate",
             permission=EDIT_SETTINGS, request_method="POST", require_csrf=True,
             renderer=TEMPLATES + "template_duplicate.jinja2")
def duplicate(context, request):
    spec = context.template
    values = {k: request.POST.get(k, "")[:1000] for k in ("name", "slug")}
    slug = values["slug"].strip() or slug_from(values["name"])
    errors = {}
    try:
        copy = duplicate_template(request.db, spec.slug, slug, values["name"])
    except InvalidTemplate as exc:
        errors = _field_errors(exc)
    except TemplateExists:
        errors = {"slug": f"There is already a template “{slug}”: choose another slug."}
    if errors:
        request.response.status = 400
        return page(context, request, "templates", template=spec, values=values, errors=errors)
    return HTTPFound(_template_path(request, context, copy.slug))
