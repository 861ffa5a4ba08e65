"""Settings -> Workflow templates: create, edit the steps with plain forms, duplicate."""

import pytest
import sqlalchemy as sa
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401

pytestmark = pytest.mark.usefixtures("cheap_hashing")
TEMPLATES = "/dashboard/acme/settings/workflow-templates/"


def api_template(app, tenant, slug):
    return app.get(f"/api/v1/templates/{slug}/", headers=tenant.headers).json


def steps_of(app, tenant, slug):
    return [(s["name"], s["visible"]) for s in api_template(app, tenant, slug)["steps"]]


def editor(app, slug):
    return app.get(f"{TEMPLATES}{slug}/").forms[1]


@pytest.fixture
def flow(app, owner):
    """An own template, created from the dashboard's form."""
    form = app.get(TEMPLATES).click("New template").forms[1]
    form["name"] = "Laser <cut>"
    form["steps"] = "Cut\n\n  Sand  \nPack\n"
    answer = form.submit(status=302)
    assert answer.location.endswith(f"{TEMPLATES}laser-cut/")
    return "laser-cut"


def test_the_list_says_edits_leave_existing_trackers_alone(app, owner, flow):
    page = app.get(TEMPLATES)
    assert "Editing a template does not change trackers already created from it" in page.text
    assert "Laser &lt;cut&gt;" in page.text
    assert page.html.find("a", attrs={"aria-label": "Duplicate 3D Printing Workflow"})
    assert not page.html.find("a", attrs={"aria-label": "Edit 3D Printing Workflow"})


def test_create_then_edit_hide_reorder_add_and_remove(app, owner, flow):
    assert steps_of(app, owner, flow) == [("Cut", True), ("Sand", True), ("Pack", True)]
    form = editor(app, flow)
    form["step-1-visible"] = False  # Sand becomes internal
    form["step-2-order"] = "0"  # Pack goes first
    form["new-name"] = "Inspect"
    form["new-visible"] = False
    form.submit(status=302)
    assert steps_of(app, owner, flow) == [
        ("Pack", True), ("Cut", True), ("Sand", False), ("Inspect", False)]
    form = editor(app, flow)
    form["step-0-remove"] = True
    form["name"] = "Laser cutting"
    saved = form.submit(status=302).follow()
    assert "Saved." in saved.text
    assert api_template(app, owner, flow)["name"] == "Laser cutting"
    assert steps_of(app, owner, flow) == [("Cut", True), ("Sand", False), ("Inspect", False)]


def test_move_buttons_reorder_without_javascript(app, owner, flow):
    form = editor(app, flow)
    assert form.html.find("button", attrs={"aria-label": "Move Sand up"})
    form.submit("move", value="1:up", status=302)
    assert [n for n, _ in steps_of(app, owner, flow)] == ["Sand", "Cut", "Pack"]


def test_editing_leaves_existing_trackers_alone(app, owner, flow, create):
    before = create("Order #1", template=flow)
    form = editor(app, flow)
    form["step-0-name"] = "Laser"
    form.submit(status=302)
    tracker = app.get(f"/api/v1/trackers/{before['id']}/", headers=owner.headers).json
    assert [s["name"] for s in tracker["steps"]] == ["Cut", "Sand", "Pack"]
    after = create("Order #2", template=flow)
    assert [s["name"] for s in after["steps"]] == ["Laser", "Sand", "Pack"]


@pytest.mark.parametrize("change, key, message", [
    ({"step-1-name": "CUT"}, "steps", "Step names must be distinct"),
    ({"step-1-name": "  "}, "step-1", "Step name must not be empty"),
    ({"step-2-name": "A\u200bB"}, "step-2", "invisible formatting"),
    ({"name": ""}, "name", "Name must not be empty"),
    ({"step-0-remove": True, "step-1-remove": True, "step-2-remove": True}, "steps",
     "1 to 50 steps"),
])
def test_bad_edits_are_shown_next_to_the_field_and_save_nothing(app, owner, flow, change, key,
                                                                 message):
    form = editor(app, flow)
    for field, value in change.items():
        form[field] = value
    answer = form.submit(status=400)
    error = answer.html.find(id=f"f-{key}-error" if key in ("name", "steps") else f"{key}-error")
    assert error is not None and message in error.get_text(), answer.html.find("main")
    assert "Nothing was saved" in answer.html.find(class_="form-error").get_text()
    assert steps_of(app, owner, flow) == [("Cut", True), ("Sand", True), ("Pack", True)]


def test_new_template_errors(app, owner, flow):
    form = app.get(f"{TEMPLATES}new").forms[1]
    form["name"], form["steps"] = "Laser cut", "A"
    assert "already a template" in form.submit(status=400).html.find(id="f-slug-error").text
    form["slug"] = "Bad Slug"
    assert "lower-case" in form.submit(status=400).html.find(id="f-slug-error").text
    form["slug"], form["steps"] = "other", "A\na"
    assert "distinct" in form.submit(status=400).html.find(id="f-steps-error").text
    form["steps"] = "A\n\u202eB"
    assert "invisible" in form.submit(status=400).html.find(id="f-steps-error").text
    app.get(f"{TEMPLATES}new/", status=200)


def test_duplicate_a_builtin_then_edit_the_copy(app, owner):
    builtin = app.get(f"{TEMPLATES}3d-printing/")
    assert not builtin.html.find("input", attrs={"name": "step-0-name"})  # read only
    form = builtin.click("Duplicate", index=0).forms[1]
    assert (form["name"].value, form["slug"].value) == ("3D Printing Workflow (copy)",
                                                       "3d-printing-copy")
    form.submit(status=302)
    assert steps_of(app, owner, "3d-printing-copy") == steps_of(app, owner, "3d-printing")
    assert form.submit(status=400).html.find(id="f-slug-error")  # taken now
    token = builtin.forms[0]["csrf_token"].value
    app.post(f"{TEMPLATES}3d-printing/", {"csrf_token": token, "count": "0", "name": "X"},
             status=400)
    assert api_template(app, owner, "3d-printing")["name"] == "3D Printing Workflow"


@pytest.mark.parametrize("role", ["staff", "viewer"])
def test_staff_and_viewers_read_only(app, registry, tenant, database, role):
    app.post_json("/api/v1/templates/", {"slug": "flow", "name": "Flow", "steps": [
        {"name": "Cut"}]}, headers=tenant.headers, status=201)
    make_user(registry, f"{role}@acme.test", tenant.id, role)
    log_in(app, f"{role}@acme.test")
    page = app.get(f"{TEMPLATES}flow/")
    assert not page.html.find("input", attrs={"name": "step-0-name"})
    assert "New template" not in app.get(TEMPLATES).text
    token = page.forms[0]["csrf_token"].value
    app.post(f"{TEMPLATES}flow/", {"csrf_token": token, "count": "1", "name": "X",
                                   "step-0-name": "Y"}, status=403)
    app.post(f"{TEMPLATES}new", {"csrf_token": token, "name": "X", "steps": "A"}, status=403)
    app.post(f"{TEMPLATES}flow/duplicate", {"csrf_token": token, "name": "X", "slug": "x"},
             status=403)
    app.get(f"{TEMPLATES}flow/duplicate", status=403)
    assert api_template(app, tenant, "flow")["name"] == "Flow"


def test_without_csrf_nothing_changes_and_other_tenants_templates_are_404(
        app, registry, owner, flow, other_tenant, database):
    app.post(f"{TEMPLATES}{flow}/", {"count": "1", "name": "X", "step-0-name": "Y"},
             status=400)
    app.post(f"{TEMPLATES}new", {"name": "X", "steps": "A"}, status=400)
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM workflow_templates")) == 1
    assert api_template(app, owner, flow)["name"] == "Laser <cut>"
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    app.reset()
    log_in(app, "owner@globex.test")
    app.get(f"/dashboard/globex/settings/workflow-templates/{flow}/", status=404)
    app.get(f"/dashboard/globex/settings/workflow-templates/{flow}/duplicate", status=404)
    for odd in ("Bad", "x" * 64, "a--b"):
        app.get(f"/dashboard/globex/settings/workflow-templates/{odd}/", status=404)
