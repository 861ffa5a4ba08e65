"""Settings -> Branding as a plain form: theme fields in, theme changes out.

The rows come from tracee.branding.theme.FIELDS, by kind, so a field added
to the theme appears here without a new template. An empty input means
"inherit": the value then comes from the agency above, or the platform.
Values are checked by tracee.branding.theme.check_value, the API's rule, one
field at a time so that every error is shown beside its own field.
"""

from dataclasses import dataclass, field

from tracee.branding.theme import (
    FIELDS,
    PLATFORM,
    STEP_TEXT,
    Field,
    ThemeError,
    check_value,
)
from tracee.i18n import LANGUAGES
from tracee.text import InvalidName, clean_name

# Shown as files, not typed (see tracee.branding.images), and step labels have their own table.
UPLOADED = ("logo_url", "favicon_url")
FORM_KINDS = ("color", "font", "radius", "https_url", "url", "text", "email", "phone",
              "language", "zone")
INPUT_TYPES = {"https_url": "url", "url": "url", "email": "email", "phone": "tel"}
MAX_POSTED = 4000  # per value: anything longer is refused by the rules anyway
MAX_NAME = 200
NOTHING_SAVED = "Nothing was saved: correct the fields marked below."


def humanise(message: str) -> str:
    """A rule's message with the fields' labels in place of their API names."""
    for spec in sorted(FIELDS, key=lambda f: -len(f.name)):
        message = message.replace(spec.name, spec.label or spec.name)
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def shown_value(spec: Field, value) -> str:
    """How a stored value reads in the form and in "inherited" notes."""
    if value is None:
        return ""
    if spec.kind == "radius":
        return str(value)
    return value


@dataclass
class Row:
    """One field of the form as the template draws it."""

    spec: Field
    value: str  # what the input holds: the tenant's own value, or what was posted
    own: object  # the saved own value (None: inherited)
    inherited: str  # the value it would inherit, as text ("" when there is none)
    inherited_from: str  # who sets that value: an agency's name, or "Tracee's default"
    picker: str = ""  # colours: the swatch's value

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def input_type(self) -> str:
        return INPUT_TYPES.get(self.spec.kind, "text")

    @property
    def choices(self) -> tuple[str, ...]:
        """A language field's options (the form shows a list, not a text box)."""
        return LANGUAGES if self.spec.kind == "language" else ()


@dataclass
class StepRow:
    index: int
    template: str
    template_name: str
    step: str
    label: str
    description: str
    inherited: dict = field(default_factory=dict)


@dataclass
class Posted:
    """What a submitted form asks for: the changes that passed, and the errors."""

    display_name: str
    changes: dict
    values: dict  # as typed, to show again
    steps: list
    errors: dict
    step_rows: list  # the step table's rows, holding what was typed


def inherited_values(chain_names: list[str], chain_values: list[dict]) -> dict:
    """For each field, (value, from whom) as the tenant would inherit it."""
    found = {}
    for spec in FIELDS:
        value, source = PLATFORM.get(spec.name), "Tracee's default"
        for name, values in zip(chain_names[1:], chain_values[1:], strict=True):
            if values.get(spec.name) is not None:
                value, source = values[spec.name], name
                break
        found[spec.name] = (value, source)
    return found


def build_rows(own: dict, inherited: dict, posted: dict | None = None) -> list[Row]:
    rows = []
    for spec in FIELDS:
        if spec.kind not in FORM_KINDS or spec.name in UPLOADED:
            continue
        value, source = inherited[spec.name]
        if spec.name == "accent_color" and value is None:
            # No accent anywhere: the brand colour in effect serves as one.
            source = "the brand colour"
            value = own.get("brand_color") or inherited["brand_color"][0]
        text = posted[spec.name] if posted is not None else shown_value(spec, own.get(spec.name))
        row = Row(spec, text, own.get(spec.name), shown_value(spec, value), source)
        if spec.kind == "color":
            row.picker = text if _is_color(text) else (shown_value(spec, value) or "#000000")
        rows.append(row)
    return rows


def _is_color(text: str) -> bool:
    try:
        check_value("brand_color", text)
    except ThemeError:
        return False
    return True


def build_step_rows(templates, own_steps: list, inherited_steps: list) -> list[StepRow]:
    """A row per customer-visible step of every template the tenant can use."""
    own = {(s["template"], s["step"]): s for s in own_steps or ()}
    inherited = {(s["template"], s["step"]): s for s in inherited_steps or ()}
    rows = []
    for spec in templates:
        for step in spec.steps:
            if not step.visible:
                continue  # never shown to customers, so nothing to label
            key = (spec.slug, step.name)
            mine = own.get(key) or {}
            rows.append(StepRow(len(rows), spec.slug, spec.name, step.name,
                                mine.get("label") or "", mine.get("description") or "",
                                inherited.get(key) or {}))
    return rows


def _picked_color(post, name: str) -> str:
    """The typed value, unless only the swatch was changed (no script keeps them in step)."""
    text = post.get(name, "")[:MAX_POSTED].strip()
    picker = post.get(f"{name}-picker", "")[:20]
    if text == post.get(f"{name}-was", "") and picker and picker != post.get(
            f"{name}-picker-was", ""):
        return picker
    return text


def _typed(spec: Field, text: str):
    """The value a field's text stands for, before the theme's rule checks it."""
    if spec.kind == "radius" and text.isascii() and text.isdigit() and len(text) <= 4:
        return int(text)
    return text


def read_post(post, step_rows: list[StepRow], own_steps: list) -> Posted:
    errors, changes, values = {}, {}, {}
    display_name = post.get("display_name", "")[:MAX_POSTED]
    try:
        display_name = clean_name(display_name)
        if len(display_name) > MAX_NAME:
            errors["display_name"] = f"Display name must be at most {MAX_NAME} characters."
    except InvalidName as exc:
        errors["display_name"] = f"Display name {exc}."
    for spec in FIELDS:
        if spec.kind not in FORM_KINDS or spec.name in UPLOADED:
            continue
        if spec.kind == "color":
            text = _picked_color(post, spec.name)
        else:
            text = post.get(spec.name, "")[:MAX_POSTED].strip()
        if post.get("clear") == spec.name:
            text = ""  # its "Use the inherited value" button
        values[spec.name] = text
        if not text:
            changes[spec.name] = None
            continue
        try:
            changes[spec.name] = check_value(spec.name, _typed(spec, text))
        except ThemeError as exc:
            errors[spec.name] = humanise(str(exc))
    steps, positions = _posted_steps(post, step_rows, own_steps)
    try:
        changes["steps"] = check_value("steps", steps)
    except ThemeError as exc:
        _, index, part = (exc.field.split(".") + ["", ""])[:3]
        row = positions.get(int(index)) if index.isdigit() else None
        key = f"step-{row}-{part}" if row is not None and part in STEP_TEXT else "steps"
        label = "Label" if part == "label" else "Description"
        message = str(exc).split(" ", 1)[1] if key != "steps" else str(exc)
        errors[key] = humanise(f"{label} {message}" if key != "steps" else message)
    if errors:
        errors["form"] = NOTHING_SAVED
    return Posted(display_name, changes, values, steps, errors, step_rows)


def _posted_steps(post, step_rows: list[StepRow], own_steps: list) -> tuple[list, dict]:
    """The theme's step list: the form's rows that say something, then the tenant's
    labels for steps the form did not show (a template since deleted)."""
    steps, positions, shown = [], {}, set()
    for row in step_rows:
        shown.add((row.template, row.step))
        label = post.get(f"step-{row.index}-label", "")[:MAX_POSTED].strip()
        description = post.get(f"step-{row.index}-description", "")[:MAX_POSTED].strip()
        row.label, row.description = label, description
        if label or description:
            positions[len(steps)] = row.index
            steps.append({"template": row.template, "step": row.step,
                          "label": label or None, "description": description or None})
    steps += [s for s in own_steps or () if (s["template"], s["step"]) not in shown]
    return steps, positions
