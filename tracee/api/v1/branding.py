"""/branding/: the tenant's theme, its own values and the ones in effect."""

import colander

from tracee.api.errors import api_error
from tracee.api.openapi import operation
from tracee.api.schemas import StrictInteger, StrictString, json_merge_body, text_schema
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import THEME_EXAMPLE, ref
from tracee.branding.service import theme_of, update_theme
from tracee.branding.theme import (
    ASSET_PATH_RE,
    COLOR_RE,
    EMAIL_RE,
    FIELDS,
    FONTS,
    MAX_RADIUS,
    MAX_STEP_LABELS,
    MAX_URL,
    PHONE_RE,
    STEP_TEXT,
    STEP_TRANSLATIONS,
    URL_RE,
    ThemeError,
    check_value,
)
from tracee.i18n import LANGUAGES

branding = api_service("branding", "/branding")


class JsonValue(colander.SchemaType):
    """Any JSON value, checked by the node's validator; null is "not given"."""

    def deserialize(self, node, cstruct):
        return colander.null if cstruct is None else cstruct


def _nullable(schema: dict) -> dict:
    return {**schema, "type": [schema["type"], "null"]}


_STEP_LABEL = {
    "type": "object", "required": ["template", "step"],
    "properties": {
        "template": text_schema(63), "step": text_schema(200),
        **{key: _nullable(text_schema(length)) for key, length in STEP_TEXT.items()},
        # The text in other languages; a language left out shows the text above.
        **{key: {"type": "object", "additionalProperties": False,
                 "properties": {lang: text_schema(length) for lang in LANGUAGES}}
           for key, length in STEP_TRANSLATIONS.items()},
    },
}
_URL_SCHEMA = {"type": "string", "maxLength": MAX_URL, "pattern": f"^{URL_RE.pattern}$"}
_KINDS = {
    "color": (StrictString, {"type": "string", "pattern": f"^{COLOR_RE.pattern}$"}),
    "font": (StrictString, {"type": "string", "enum": list(FONTS)}),
    "radius": (StrictInteger, {"type": "integer", "minimum": 0, "maximum": MAX_RADIUS}),
    "https_url": (StrictString, {**_URL_SCHEMA, "pattern": "^https" + URL_RE.pattern[8:] + "$"}),
    "image": (StrictString, {**_URL_SCHEMA, "pattern": "^(?:https" + URL_RE.pattern[8:] + "|"
                             + ASSET_PATH_RE.pattern + ")$"}),
    "url": (StrictString, _URL_SCHEMA),
    "email": (StrictString, {"type": "string", "maxLength": 254,
                             "pattern": f"^{EMAIL_RE.pattern}$"}),
    "phone": (StrictString, {"type": "string", "pattern": f"^{PHONE_RE.pattern}$"}),
    "language": (StrictString, {"type": "string", "enum": list(LANGUAGES)}),
    "zone": (StrictString, {"type": "string", "minLength": 1, "maxLength": 64,
                            "description": "an IANA time zone name"}),
    "steps": (JsonValue, {"type": ["array", "null"], "maxItems": MAX_STEP_LABELS,
                          "items": _STEP_LABEL}),
}


def _field_node(spec):
    def validate(node, value):
        try:
            check_value(spec.name, value)
        except ThemeError as exc:
            raise colander.Invalid(node, str(exc)) from None

    typ, schema = _KINDS.get(spec.kind) or (StrictString, text_schema(spec.max_length))
    node = colander.SchemaNode(typ(), name=spec.name, missing=colander.drop, validator=validate,
                               description=spec.description or None)
    node.json_schema = schema
    return node


ThemeUpdate = colander.SchemaNode(colander.Mapping(), *(_field_node(f) for f in FIELDS))


@branding.get()
@operation(200, ref("Branding"), "Get the theme", example=THEME_EXAMPLE)
def read(request):
    """The tenant's own theme values (null where it inherits) and the values in effect
    on its pages: each field from the nearest of the tenant, its agencies and the
    platform."""
    return theme_of(request.db, request.context.tenant_id)


@branding.put(validators=(json_merge_body(ThemeUpdate),))
@operation(200, ref("Branding"), "Change the theme", example=THEME_EXAMPLE,
           request_example={"brand_color": "#0f766e", "font": "humanist", "footer_text": None})
def change(request):
    """A partial update: a field left out is unchanged, `null` clears it so it is inherited
    again. Text colours below WCAG AA contrast (4.5:1) on the background are refused."""
    try:
        return update_theme(request.db, request.context.tenant_id, dict(request.validated))
    except ThemeError as exc:
        raise api_error(400, str(exc), name=exc.field) from None
