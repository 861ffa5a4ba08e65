"""The JSON Schemas of what v1 answers, as representation.py builds it.

The OpenAPI document publishes them, and the schemathesis run checks every
answer against them, so a field added in representation.py without its
line here fails the tests. Examples are the public documentation's own.
"""

from tracee.tracking.models import COMPLETED, IN_PROGRESS, PENDING

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TIME = {"type": "string", "format": "date-time"}
STEP_STATUS = {"type": "string", "enum": [PENDING, IN_PROGRESS, COMPLETED]}


def _object(properties: dict, properties_optional: dict | None = None, **extra) -> dict:
    return {"type": "object", "required": list(properties),
            "properties": {**properties, **(properties_optional or {})}, **extra}


TRACKER_SUMMARY = _object({
    "id": {"type": "integer", "minimum": 1},
    "number": {"type": "integer", "minimum": 1, "description": "the order number"},
    "name": {"type": "string"},
    "template": {"type": ["string", "null"], "description": "the template's slug"},
    "tracking_token": {"type": "string", "format": "uuid"},
    "tracking_url": {"type": "string", "format": "uri",
                     "description": "the customer's tracking page"},
    "api_url": {"type": "string", "format": "uri"},
    "embed_code": {"type": "string", "description": "an iframe of the tracking widget"},
    "qr_code_url": {"type": "string", "format": "uri"},
    "current_process": {"type": ["string", "null"],
                        "description": "the step started last, if any"},
    "is_completed": {"type": "boolean"},
    "estimated_ready_at": {
        **NULLABLE_TIME,
        "description": "when the order should be ready: the date the business set, else "
                       "from the steps' expected durations; null when finished, when a "
                       "duration is unknown, or while a step runs past its expectation"},
    "estimate_source": {"type": ["string", "null"], "enum": ["set", "expected", None],
                        "description": "set: the business's date; expected: from the steps"},
    "is_late": {"type": "boolean",
                "description": "unfinished, and a step has run past its expected duration "
                               "or the set date has passed"},
    "created_at": TIME,
    "updated_at": TIME,
})
EXPECTED_MINUTES = {"type": "integer", "minimum": 1,
                    "description": "how long the step usually takes, in minutes; "
                                   "absent when not set"}

HISTORY_ENTRY = _object({
    "process": {"type": "string"},
    "status": STEP_STATUS,
    "started_at": NULLABLE_TIME,
    "completed_at": NULLABLE_TIME,
})

TRACKER_STEP = _object({
    "name": {"type": "string"},
    "order": {"type": "integer", "minimum": 1},
    "visible": {"type": "boolean", "description": "false: never shown on public pages"},
    "status": STEP_STATUS,
    "started_at": NULLABLE_TIME,
    "completed_at": NULLABLE_TIME,
}, properties_optional={"expected_minutes": EXPECTED_MINUTES})

TRACKER = {
    **TRACKER_SUMMARY,
    "required": [*TRACKER_SUMMARY["required"], "history", "steps"],
    "properties": {
        **TRACKER_SUMMARY["properties"],
        "history": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryEntry"},
                    "description": "the steps that have started, in order"},
        "steps": {"type": "array", "items": {"$ref": "#/components/schemas/TrackerStep"}},
    },
}

TEMPLATE = _object({
    "slug": {"type": "string"},
    "name": {"type": "string"},
    "builtin": {"type": "boolean"},
    "steps": {"type": "array", "items": _object({
        "name": {"type": "string"},
        "order": {"type": "integer", "minimum": 1},
        "visible": {"type": "boolean"},
    }, properties_optional={"expected_minutes": EXPECTED_MINUTES})},
})

CLIENT = _object({
    "slug": {"type": "string", "description": "what `Tracee-Tenant` names to act for it"},
    "name": {"type": "string"},
    "domain": {"type": ["string", "null"], "description": "the verified custom domain"},
    "pending_domain": {"type": ["string", "null"],
                       "description": "a custom domain waiting for its TXT record"},
    "created_at": TIME,
    "open_trackers": {"type": "integer", "minimum": 0,
                      "description": "trackers not completed yet"},
    "last_activity_at": {**NULLABLE_TIME, "description": "its latest tracker change"},
})

def _theme_values() -> dict:
    from tracee.branding.theme import FIELDS

    nullable = {"type": ["string", "integer", "array", "null"]}
    return _object({f.name: {**nullable, "description": f.description} if f.description
                    else nullable for f in FIELDS})


THEME_VALUES = _theme_values()
BRANDING = _object({
    "own": {**THEME_VALUES, "description": "what the tenant set itself; null: inherited"},
    "effective": {**THEME_VALUES, "description": "what its pages use"},
})

_NULLABLE_TEXT = {"type": ["string", "null"]}
PAGE_TEMPLATE = _object({
    "kind": {"type": "string", "enum": ["tracking", "embed"]},
    "version": {"type": ["integer", "null"], "minimum": 1,
                "description": "the tenant's own version in force; null: none of its own"},
    "source": _NULLABLE_TEXT,
    "inherited_from": {**_NULLABLE_TEXT,
                       "description": "the agency whose template applies instead, if any"},
    "last_render_error": {"type": ["object", "null"], "properties": {
        "version": {"type": "integer"}, "message": {"type": "string"}, "at": TIME}},
})
PAGE_TEMPLATE_VERSION = _object({
    "version": {"type": "integer", "minimum": 1},
    "source": {**_NULLABLE_TEXT, "description": "null: back to the default"},
    "created_at": TIME,
    "restored_from": {"type": ["integer", "null"]},
    "render_error": _NULLABLE_TEXT,
    "render_error_at": NULLABLE_TIME,
})

DOMAIN = _object({
    "domain": {**_NULLABLE_TEXT, "description": "the verified domain, served"},
    "pending_domain": {**_NULLABLE_TEXT, "description": "waiting for its TXT record"},
    "txt_record": {"type": ["object", "null"], "required": ["name", "value"], "properties": {
        "name": {"type": "string"}, "value": {"type": "string"}}},
    "cname_target": {"type": "string", "description": "point the domain's CNAME here"},
})

SCHEMAS = {
    "TrackerSummary": TRACKER_SUMMARY,
    "Tracker": TRACKER,
    "HistoryEntry": HISTORY_ENTRY,
    "TrackerStep": TRACKER_STEP,
    "Template": TEMPLATE,
    "Client": CLIENT,
    "Branding": BRANDING,
    "PageTemplate": PAGE_TEMPLATE,
    "PageTemplateVersion": PAGE_TEMPLATE_VERSION,
    "Domain": DOMAIN,
}

# The public documentation's examples, completed with the fields it leaves out.
_TOKEN = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
TEMPLATE_EXAMPLE = {
    "slug": "3d-printing",
    "name": "3D Printing Workflow",
    "builtin": True,
    "steps": [
        {"name": "Preparing/Slicing", "order": 1, "visible": True},
        {"name": "3D Printing", "order": 2, "visible": True},
        {"name": "Post-Processing", "order": 3, "visible": True},
        {"name": "Quality Check", "order": 4, "visible": False},
        {"name": "Packaging", "order": 5, "visible": True},
        {"name": "Ready for Shipping", "order": 6, "visible": True},
    ],
}
_SUMMARY_EXAMPLE = {
    "id": 42,
    "number": 5678,
    "name": "Order #5678 - Custom Chess Set",
    "template": "3d-printing",
    "tracking_token": _TOKEN,
    "tracking_url": f"https://tracee.app/track/{_TOKEN}",
    "api_url": "https://tracee.app/api/v1/trackers/42/",
    "embed_code": f'<iframe src="https://tracee.app/embed/{_TOKEN}/" width="100%" height="400" '
                  'frameborder="0" title="Order tracking" loading="lazy"></iframe>',
    "qr_code_url": "https://tracee.app/api/v1/trackers/42/qr/",
    "current_process": None,
    "is_completed": False,
    "estimated_ready_at": None,
    "estimate_source": None,
    "is_late": False,
    "created_at": "2026-01-31T09:58:00Z",
    "updated_at": "2026-01-31T09:58:00Z",
}


def _steps(started: dict) -> list:
    return [
        {**step, "status": started.get(step["name"], {}).get("status", PENDING),
         "started_at": started.get(step["name"], {}).get("started_at"),
         "completed_at": started.get(step["name"], {}).get("completed_at")}
        for step in TEMPLATE_EXAMPLE["steps"]
    ]


CREATED_EXAMPLE = {**_SUMMARY_EXAMPLE, "history": [], "steps": _steps({})}
_HISTORY = [
    {"process": "Preparing/Slicing", "status": COMPLETED,
     "started_at": "2026-01-31T10:00:00Z", "completed_at": "2026-01-31T10:30:00Z"},
    {"process": "3D Printing", "status": IN_PROGRESS,
     "started_at": "2026-01-31T10:35:00Z", "completed_at": None},
]
TRACKER_EXAMPLE = {
    **_SUMMARY_EXAMPLE,
    "current_process": "3D Printing",
    "updated_at": "2026-01-31T10:35:00Z",
    "history": _HISTORY,
    "steps": _steps({entry["process"]: entry for entry in _HISTORY}),
}
LIST_EXAMPLE = [_SUMMARY_EXAMPLE]
CREATE_TRACKER_EXAMPLE = {"name": "Order #5678 - Custom Chess Set", "template": "3d-printing"}
STATUS_EXAMPLE = {"process": "3D Printing", "action": "start"}


CLIENT_EXAMPLE = {
    "slug": "blue-vase", "name": "Blue Vase Ceramics", "domain": "track.bluevase.example",
    "pending_domain": None,
    "created_at": "2026-01-02T09:00:00Z", "open_trackers": 12,
    "last_activity_at": "2026-01-31T10:35:00Z",
}


_OWN_THEME = {
    "brand_color": "#0f766e", "accent_color": None, "background_color": None,
    "text_color": None, "font": "humanist", "corner_radius": 8,
    "logo_url": "https://bluevase.example/logo.svg", "favicon_url": None,
    "back_link_label": "Blue Vase Ceramics", "back_link_url": "https://bluevase.example/",
    "support_email": "help@bluevase.example", "support_phone": None, "support_url": None,
    "footer_text": None,
    "steps": [{"template": "3d-printing", "step": "3D Printing", "label": "Shaping your vase",
               "description": "Your vase is being printed layer by layer.",
               "labels": {"de": "Ihre Vase entsteht"}}],
    "language": None, "default_language": "de", "time_zone": "Europe/Berlin",
}
THEME_EXAMPLE = {
    "own": _OWN_THEME,
    "effective": {**_OWN_THEME, "background_color": "#f4f6f9", "text_color": "#1f2933"},
}


PAGE_TEMPLATE_EXAMPLE = {
    "kind": "tracking", "version": 3,
    "source": "<h1>{{ tracker.name }}</h1>\n<p>{{ tracker.headline }}</p>",
    "inherited_from": None, "last_render_error": None,
}


DOMAIN_EXAMPLE = {
    "domain": None, "pending_domain": "track.bluevase.example",
    "txt_record": {"name": "_tracee-challenge.track.bluevase.example",
                   "value": "pT3n9cV1bqkK0yD2lW8sRzX5aH7eJ4uMfGiQoYtNwE"},
    "cname_target": "tracee.app",
}


def ref(name: str) -> dict:
    assert name in SCHEMAS, name
    return {"$ref": f"#/components/schemas/{name}"}
