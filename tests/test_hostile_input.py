"""Hostile input against the API: every bad request gets a JSON 4xx naming the
problem, never a 500, and leaves the database exactly as it was.

Each row of the tables below is sent by :func:`attempt`, which snapshots every
table (through the owner/superuser engine, so row-level security hides
nothing) before and after the request and asserts they are identical.
"""

import io
import json
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from conftest import make_app
from webob import Request
from webtest import TestApp

# table -> ORDER BY, so snapshots compare row for row
SNAPSHOT_TABLES = {
    "tenants": "id",
    "api_keys": "id",
    "trackers": "tenant_id, id",
    "tracker_steps": "tenant_id, tracker_id, position",
    "tracker_events": "tenant_id, tracker_id, seq",
    "tracking_links": "token",
    "workflow_templates": "tenant_id, slug",
    "template_steps": "tenant_id, template_slug, position",
}
MAX_BODY = 65536
JSON = {"Content-Type": "application/json"}


def snapshot(database) -> dict:
    """Every row of every table. ``last_used_at`` is advisory and left out."""
    with database.admin_engine.connect() as conn:
        state = {}
        for table, order in SNAPSHOT_TABLES.items():
            rows = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order}")).mappings()
            state[table] = [
                {k: v for k, v in row.items() if k != "last_used_at"} for row in rows
            ]
    return state


def counts(database) -> dict:
    with database.admin_engine.connect() as conn:
        return {
            t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in SNAPSHOT_TABLES
        }


def assert_json_error(response, status, name=..., says=None, location=None):
    """The API's one error shape, with an entry that names the problem."""
    assert response.status_int == status, response.text[:500]
    assert response.content_type == "application/json", response.content_type
    body = response.json_body
    assert body["status"] == "error"
    assert isinstance(body["errors"], list) and body["errors"]
    for entry in body["errors"]:
        assert set(entry) == {"location", "name", "description"}, entry
        assert isinstance(entry["description"], str) and entry["description"]
    matching = [
        e for e in body["errors"]
        if (name is ... or e["name"] == name)
        and (says is None or says.lower() in e["description"].lower())
        and (location is None or e["location"] == location)
    ]
    assert matching, f"no error with name={name!r} saying {says!r}: {body['errors']}"
    return body


@dataclass
class World:
    """One tenant with a templated tracker, a template-less one and its own template."""

    tracker_id: int
    bare_tracker_id: int
    template_slug: str
    headers: dict = field(default_factory=dict)


@pytest.fixture
def world(app, tenant, create):
    tracked = create(name="Order #1234 - Blue Vase", template="3d-printing")
    bare = create(name="Order #77 - free form", template=None)
    app.post_json(
        "/api/v1/templates/",
        {"slug": "custom-flow", "name": "Custom", "steps": [{"name": "Cut"}, {"name": "Sew"}]},
        headers=tenant.headers, status=201,
    )
    return World(tracked["id"], bare["id"], "custom-flow", tenant.headers)


def attempt(app, database, world, method, path, body=None, headers=None):
    """Send one request and assert that it changed nothing at all."""
    path = path.format(tracker=world.tracker_id, bare=world.bare_tracker_id,
                       template=world.template_slug)
    if body is not None and not isinstance(body, bytes | str):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    before = snapshot(database)
    response = app.request(
        path, method=method, body=body or b"",
        headers={**JSON, **world.headers, **(headers or {})}, expect_errors=True,
    )
    assert snapshot(database) == before, f"{method} {path} changed the database"
    return response


TRACKERS = "/api/v1/trackers/"
STATUS = "/api/v1/trackers/{tracker}/status/"
TEMPLATES = "/api/v1/templates/"
VALID_STATUS = {"process": "3D Printing", "action": "start"}


def steps(*names):
    return [{"name": n} for n in names]


def template_body(**overrides):
    return {"slug": "new-flow", "name": "New flow", "steps": steps("A", "B"), **overrides}


# (row id, path, body, status, name, words the description must contain)
BODY_CASES = [
    # -- the body is not a JSON object at all, on every endpoint
    *[
        row
        for prefix, path in (("tracker", TRACKERS), ("status", STATUS), ("template", TEMPLATES))
        for row in (
            (f"{prefix}-malformed-json", path, '{"name": ', 400, None, "not valid JSON"),
            (f"{prefix}-trailing-garbage", path, '{"name": "x"} x', 400, None, "not valid JSON"),
            (f"{prefix}-array", path, "[]", 400, None, "JSON object"),
            (f"{prefix}-string", path, '"x"', 400, None, "JSON object"),
            (f"{prefix}-number", path, "5", 400, None, "JSON object"),
            (f"{prefix}-null", path, "null", 400, None, "JSON object"),
            (f"{prefix}-empty-body", path, "", 400, None, "JSON object"),
            (f"{prefix}-blank-body", path, " \r\n\t ", 400, None, "JSON object"),
            (f"{prefix}-nan", path, '{"name": NaN, "process": NaN}', 400, None, "NaN"),
            (f"{prefix}-infinity", path, '{"name": Infinity}', 400, None, "Infinity"),
            (f"{prefix}-minus-infinity", path, '{"name": -Infinity}', 400, None, "Infinity"),
            (f"{prefix}-invalid-utf8", path, b'{"name": "caf\xe9 \xff"}', 400, None, "utf-8"),
            (f"{prefix}-deep-array", path, '{"name": ' + "[" * 20000 + "]" * 20000 + "}",
             400, None, "nested"),
            (f"{prefix}-deep-object", path, '{"a":' * 10000 + "1" + "}" * 10000,
             400, None, "nested"),
            (f"{prefix}-over-limit", path, {"name": "x", "pad": "y" * MAX_BODY},
             413, None, f"larger than {MAX_BODY} bytes"),
        )
    ],
    # -- POST /trackers/: wrong types and bad values
    ("name-missing", TRACKERS, {"template": "3d-printing"}, 400, "name", "required"),
    ("name-null", TRACKERS, {"name": None}, 400, "name", "required"),
    ("name-int", TRACKERS, {"name": 5}, 400, "name", "must be a string"),
    ("name-list", TRACKERS, {"name": ["x"]}, 400, "name", "must be a string"),
    ("name-object", TRACKERS, {"name": {"x": 1}}, 400, "name", "must be a string"),
    ("name-bool", TRACKERS, {"name": True}, 400, "name", "must be a string"),
    ("name-empty", TRACKERS, {"name": ""}, 400, "name", "must not be empty"),
    ("name-whitespace", TRACKERS, {"name": " \t\u3000 "}, 400, "name", "must not be empty"),
    ("name-201-chars", TRACKERS, {"name": "x" * 201}, 400, "name", "at most 200"),
    ("name-nul", TRACKERS, {"name": "Order\x00 #1"}, 400, "name", "control characters"),
    ("name-bell", TRACKERS, {"name": "Order \x07"}, 400, "name", "control characters"),
    ("name-escape", TRACKERS, {"name": "\x1b[31mred"}, 400, "name", "control characters"),
    ("name-newline", TRACKERS, {"name": "two\nlines"}, 400, "name", "control characters"),
    ("name-del", TRACKERS, {"name": "x\x7f"}, 400, "name", "control characters"),
    ("name-c1", TRACKERS, {"name": "x\x9b"}, 400, "name", "control characters"),
    ("name-lone-surrogate", TRACKERS, '{"name": "a\\ud800b"}', 400, None, "surrogate"),
    ("number-string", TRACKERS, {"name": "x", "number": "5"}, 400, "number", "integer"),
    ("number-float", TRACKERS, {"name": "x", "number": 5.5}, 400, "number", "integer"),
    ("number-true", TRACKERS, {"name": "x", "number": True}, 400, "number", "integer"),
    ("number-list", TRACKERS, {"name": "x", "number": [5]}, 400, "number", "integer"),
    ("number-huge-float", TRACKERS, '{"name": "x", "number": 1e999}', 400, "number", "integer"),
    ("number-zero", TRACKERS, {"name": "x", "number": 0}, 400, "number", "at least 1"),
    ("number-negative", TRACKERS, {"name": "x", "number": -1}, 400, "number", "at least 1"),
    ("number-too-big", TRACKERS, {"name": "x", "number": 2**31}, 400, "number", "at most"),
    ("number-bignum", TRACKERS, {"name": "x", "number": 10**30}, 400, "number", "at most"),
    ("template-int", TRACKERS, {"name": "x", "template": 3}, 400, "template", "must be a string"),
    ("template-list", TRACKERS, {"name": "x", "template": ["3d-printing"]}, 400, "template",
     "must be a string"),
    ("template-unknown", TRACKERS, {"name": "x", "template": "no-such-flow"}, 400, "template",
     "unknown template"),
    ("template-bad-slug", TRACKERS, {"name": "x", "template": "3D Printing!"}, 400, "template",
     "lower-case"),
    ("template-newline", TRACKERS, {"name": "x", "template": "3d-printing\n"}, 400, "template",
     "lower-case"),
    ("template-nul", TRACKERS, {"name": "x", "template": "3d\x00printing"}, 400, "template",
     "lower-case"),
    # -- POST /trackers/{id}/status/
    ("process-missing", STATUS, {"action": "start"}, 400, "process", "required"),
    ("action-missing", STATUS, {"process": "3D Printing"}, 400, "action", "required"),
    ("process-int", STATUS, {"process": 5, "action": "start"}, 400, "process", "must be a string"),
    ("action-int", STATUS, {"process": "3D Printing", "action": 1}, 400, "action",
     "must be a string"),
    ("action-list", STATUS, {"process": "3D Printing", "action": ["start"]}, 400, "action",
     "must be a string"),
    ("action-unknown", STATUS, {"process": "3D Printing", "action": "finish"}, 400, "action",
     "must be one of: start, complete"),
    ("action-wrong-case", STATUS, {"process": "3D Printing", "action": "START"}, 400, "action",
     "must be one of"),
    ("process-empty", STATUS, {"process": "", "action": "start"}, 400, "process",
     "must not be empty"),
    ("process-whitespace", STATUS, {"process": "   ", "action": "start"}, 400, "process",
     "must not be empty"),
    ("process-201-chars", STATUS, {"process": "p" * 201, "action": "start"}, 400, "process",
     "at most 200"),
    ("process-nul", STATUS, {"process": "3D\x00Printing", "action": "start"}, 400, "process",
     "control characters"),
    ("process-control", STATUS, {"process": "3D\rPrinting", "action": "start"}, 400, "process",
     "control characters"),
    ("process-lone-surrogate", STATUS, '{"process": "\\udfff", "action": "start"}', 400,
     None, "surrogate"),
    ("unknown-field-lone-surrogate", TRACKERS, '{"name": "x", "note": {"\\ud83d": 1}}', 400,
     None, "surrogate"),
    ("process-unknown", STATUS, {"process": "Teleporting", "action": "start"}, 400, "process",
     "unknown process"),
    # -- POST /templates/
    ("tpl-slug-missing", TEMPLATES, template_body(slug=None), 400, "slug", "required"),
    ("tpl-slug-int", TEMPLATES, template_body(slug=5), 400, "slug", "must be a string"),
    ("tpl-slug-spaces", TEMPLATES, template_body(slug="New Flow"), 400, "slug", "lower-case"),
    ("tpl-slug-newline", TEMPLATES, template_body(slug="new-flow\n"), 400, "slug", "lower-case"),
    ("tpl-slug-nul", TEMPLATES, template_body(slug="new\x00flow"), 400, "slug", "lower-case"),
    ("tpl-slug-too-long", TEMPLATES, template_body(slug="a" * 64), 400, "slug", "63"),
    ("tpl-slug-builtin", TEMPLATES, template_body(slug="3d-printing"), 409, "slug",
     "already exists"),
    ("tpl-slug-taken", TEMPLATES, template_body(slug="custom-flow"), 409, "slug",
     "already exists"),
    ("tpl-name-int", TEMPLATES, template_body(name=5), 400, "name", "must be a string"),
    ("tpl-name-empty", TEMPLATES, template_body(name="  "), 400, "name", "must not be empty"),
    ("tpl-name-nul", TEMPLATES, template_body(name="a\x00"), 400, "name", "control characters"),
    ("tpl-steps-missing", TEMPLATES, {"slug": "new-flow", "name": "New"}, 400, "steps",
     "required"),
    ("tpl-steps-null", TEMPLATES, template_body(steps=None), 400, "steps", None),
    ("tpl-steps-empty", TEMPLATES, template_body(steps=[]), 400, "steps", "at least one step"),
    ("tpl-steps-string", TEMPLATES, template_body(steps="abc"), 400, "steps", "not iterable"),
    ("tpl-steps-object", TEMPLATES, template_body(steps={"name": "A"}), 400, "steps", None),
    ("tpl-step-int", TEMPLATES, template_body(steps=[5]), 400, "steps.0", "mapping"),
    ("tpl-step-name-int", TEMPLATES, template_body(steps=[{"name": 5}]), 400, "steps.0.name",
     "must be a string"),
    ("tpl-step-name-missing", TEMPLATES, template_body(steps=[{"visible": True}]), 400,
     "steps.0.name", "required"),
    ("tpl-step-name-nul", TEMPLATES, template_body(steps=steps("ok", "b\x00d")), 400,
     "steps.1.name", "control characters"),
    ("tpl-step-visible-string", TEMPLATES,
     template_body(steps=[{"name": "A", "visible": "yes"}]), 400, "steps.0.visible",
     "true or false"),
    ("tpl-step-visible-int", TEMPLATES, template_body(steps=[{"name": "A", "visible": 1}]), 400,
     "steps.0.visible", "true or false"),
    ("tpl-steps-duplicate", TEMPLATES, template_body(steps=steps("Cut", " cut ")), 400, "steps",
     "distinct"),
    ("tpl-steps-too-many", TEMPLATES, template_body(steps=steps(*map(str, range(51)))), 400,
     "steps", "at most 50"),
]


@pytest.mark.parametrize(
    "path, body, status, name, says",
    [pytest.param(*row[1:], id=row[0]) for row in BODY_CASES],
)
def test_hostile_body_is_refused_and_changes_nothing(
    app, database, world, path, body, status, name, says
):
    response = attempt(app, database, world, "POST", path, body)
    assert_json_error(response, status, name=name, says=says)


ID_CASES = ["abc", "0", "-1", "1.5", "1e3", "99999999999999999999", "2147483648", "%20", "0x1",
            "%D9%A1"]  # the last is ARABIC-INDIC DIGIT ONE


@pytest.mark.parametrize("raw_id", ID_CASES)
@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/api/v1/trackers/{id}/", None),
        ("POST", "/api/v1/trackers/{id}/status/", VALID_STATUS),
        ("GET", "/api/v1/trackers/{id}/qr/", None),
    ],
    ids=["read", "status", "qr"],
)
def test_malformed_tracker_id_is_400(app, database, world, method, path, body, raw_id):
    response = attempt(app, database, world, method, path.replace("{id}", raw_id), body)
    assert_json_error(response, 400, name="id", says="positive integer", location="path")


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/api/v1/trackers/{id}/", None),
        ("POST", "/api/v1/trackers/{id}/status/", VALID_STATUS),
        ("GET", "/api/v1/trackers/{id}/qr/", None),
    ],
    ids=["read", "status", "qr"],
)
def test_unknown_tracker_id_is_404(app, database, world, method, path, body):
    response = attempt(app, database, world, method, path.replace("{id}", "4242"), body)
    assert_json_error(response, 404, name="id", says="no tracker with id 4242", location="path")


@pytest.mark.parametrize(
    "slug", ["no-such-flow", "Custom-Flow", "custom-flow%00", "a%00b", "x" * 300, "%E2%80%AE"]
)
def test_unknown_or_malformed_template_slug_is_404(app, database, world, slug):
    response = attempt(app, database, world, "GET", f"/api/v1/templates/{slug}/")
    assert_json_error(response, 404, name="slug", location="path")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/trackers/%FF/"),
        ("POST", "/api/v1/trackers/%C3%28/status/"),
        ("GET", "/api/v1/templates/%80/"),
        ("GET", "/api/v1/trackers/?q=%FF"),
        ("GET", "/api/v1/trackers/{tracker}/qr/?size=%FE"),
        ("GET", "/api/v1/trackers/{tracker}/qr/?api_key=%FF"),
        ("GET", "/api/v1/trackers/?%FF=1"),
    ],
)
def test_invalid_utf8_in_address_is_400(app, database, world, method, path):
    response = attempt(app, database, world, method, path, VALID_STATUS)
    assert_json_error(response, 400, says="utf-8")


@pytest.mark.parametrize(
    "query, name, says",
    [
        ("page=abc", "page", "not a number"),
        ("page=0", "page", "less than minimum"),
        ("per_page=101", "per_page", "greater than maximum"),
        ("per_page=-5", "per_page", "less than minimum"),
        ("completed=maybe", "completed", "neither"),
        ("q=" + "x" * 201, "q", "longer than maximum"),
        ("q=a%00b", "q", "control characters"),
        ("q=%1B%5B2J", "q", "control characters"),
    ],
)
def test_hostile_list_query_is_400(app, database, world, query, name, says):
    response = attempt(app, database, world, "GET", f"/api/v1/trackers/?{query}")
    assert_json_error(response, 400, name=name, says=says, location="querystring")


@pytest.mark.parametrize(
    "size, says", [("10", "less than minimum"), ("63", "less than minimum"),
                   ("1201", "greater than maximum"), ("99999999999", "greater than maximum"),
                   ("abc", "not a number"), ("1.5", "not a number"), ("-300", "less than minimum")],
)
def test_qr_size_out_of_bounds_is_400(app, database, world, size, says):
    response = attempt(app, database, world, "GET", f"/api/v1/trackers/{{tracker}}/qr/?size={size}")
    assert_json_error(response, 400, name="size", says=says, location="querystring")


def test_a_name_of_exactly_200_printable_characters_is_accepted(app, tenant):
    # The boundary of the "over 200" rows above: they fail for their length alone.
    name = "é" * 199 + "☃"
    created = app.post_json(TRACKERS, {"name": name}, headers=tenant.headers, status=201).json
    assert app.get(created["api_url"], headers=tenant.headers).json["name"] == name


def test_surrounding_white_space_is_folded_not_refused(app, tenant):
    created = app.post_json(TRACKERS, {"name": "  Order #9  "}, headers=tenant.headers,
                            status=201).json
    assert created["name"] == "Order #9"


def test_body_size_limit_follows_the_setting(database, tenant):
    app = TestApp(make_app(database, **{"tracee.max_body_bytes": "512"}))
    before = counts(database)
    big = json.dumps({"name": "Order", "pad": "x" * 600})
    response = app.post(TRACKERS, big, headers={**JSON, **tenant.headers}, expect_errors=True)
    assert_json_error(response, 413, says="larger than 512 bytes")
    assert counts(database) == before
    small = json.dumps({"name": "Order", "pad": "x" * 400})
    app.post(TRACKERS, small, headers={**JSON, **tenant.headers}, status=201)


class CountingInput(io.BytesIO):
    """A request body stream that remembers how much of it the app read."""

    consumed = 0

    def read(self, size=-1):
        data = super().read(size)
        self.consumed += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.consumed += len(data)
        return data


def test_body_without_content_length_is_cut_off_at_the_limit(database, wsgi_app, tenant):
    """A chunked upload (no Content-Length) must not be read to its end first."""
    payload = b'{"name": "x", "pad": "' + b"y" * (20 * MAX_BODY) + b'"}'
    stream = CountingInput(payload)
    request = Request.blank(TRACKERS, method="POST", headers={**JSON, **tenant.headers})
    request.environ.pop("CONTENT_LENGTH", None)
    request.environ["wsgi.input"] = stream
    request.environ["wsgi.input_terminated"] = True
    before = counts(database)
    response = request.get_response(wsgi_app)
    assert_json_error(response, 413, says=f"larger than {MAX_BODY} bytes")
    assert stream.consumed <= 2 * MAX_BODY, f"read {stream.consumed} bytes of a refused body"
    assert counts(database) == before


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("PUT", "/api/v1/trackers/{tracker}/", "GET"),
        ("DELETE", "/api/v1/trackers/{tracker}/", "GET"),
        ("PATCH", "/api/v1/trackers/", "POST"),
        ("DELETE", "/api/v1/trackers/", "GET"),
        ("GET", "/api/v1/trackers/{tracker}/status/", "POST"),
        ("PUT", "/api/v1/trackers/{tracker}/status/", "POST"),
        ("POST", "/api/v1/trackers/{tracker}/qr/", "GET"),
        ("DELETE", "/api/v1/templates/", "POST"),
        ("POST", "/api/v1/templates/{template}/", "GET"),
    ],
)
def test_wrong_method_is_json_405(app, database, world, method, path, allowed):
    response = attempt(app, database, world, method, path, {"name": "x"})
    assert_json_error(response, 405, says="not allowed")
    assert allowed in [m.strip() for m in response.headers["Allow"].split(",")]
    # The body says what to use, for clients that do not read headers.
    assert allowed in response.json["errors"][0]["description"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope", "/api/v1/nope/", "/api/v1/trackers/{tracker}/nope/", "/api/v2/trackers/",
     "/api/", "/api/v1/trackers/{tracker}/status/extra", "/api/v1/templates/a/b/"],
)
def test_unknown_api_path_is_json_404(app, database, world, path):
    for headers in ({}, {"X-API-Key": ""}):  # with and without a key
        response = attempt(app, database, world, "GET", path, headers=headers)
        assert_json_error(response, 404, says="no API resource")


def test_4xx_after_a_partial_write_leaves_nothing_behind(app, database, world, tenant):
    """A duplicate explicit number is refused after the tenant's id counter moved on."""
    existing = app.get(f"/api/v1/trackers/{world.tracker_id}/", headers=tenant.headers).json
    before = snapshot(database)
    response = app.post_json(
        TRACKERS, {"name": "Clash", "number": existing["number"], "template": "3d-printing"},
        headers=tenant.headers, expect_errors=True,
    )
    assert_json_error(response, 409, name="number", says="already used")
    assert snapshot(database) == before  # also tenants.tracker_seq
    # and the id that was allocated then rolled back is simply reused
    again = app.post_json(TRACKERS, {"name": "Fine"}, headers=tenant.headers, status=201).json
    assert again["id"] == max(world.tracker_id, world.bare_tracker_id) + 1


def test_rejected_status_update_on_free_form_tracker_adds_no_step(app, database, world):
    """Template-less trackers grow steps on demand; a bad action must not grow one."""
    path = f"/api/v1/trackers/{world.bare_tracker_id}/status/"
    response = attempt(app, database, world, "POST", path, {"process": "New step", "action": "x"})
    assert_json_error(response, 400, name="action")
