"""Trackers -> New tracker, the tracker page's link, embed and QR, and label sheets."""

import io
import re
import time

import pytest
import sqlalchemy as sa
from conftest import TEST_ACTOR
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401
from PIL import Image

from tracee.tracking.workflow import create_tracker

pytestmark = pytest.mark.usefixtures("cheap_hashing")
TRACKERS = "/dashboard/acme/trackers/"


def new_form(app):
    return app.get(TRACKERS).click("New tracker").forms[1]


def test_a_new_tracker_from_the_form_is_the_apis_tracker(app, owner):
    form = new_form(app)
    assert [o[0] for o in form["template"].options][:1] == ["3d-printing"]
    form["name"] = "  Order #1234 - Blue Vase "
    page = form.submit(status=302).follow()
    assert page.html.find("h1").get_text() == "Order #1234 - Blue Vase"
    assert page.html.find("button", string="Start 3D Printing")
    assert "Created · by owner@acme.test" in page.html.find("ol", class_="history").get_text(
        " ", strip=True)
    listed = app.get("/api/v1/trackers/", headers=owner.headers).json
    assert [(t["name"], t["number"], t["template"]) for t in listed] == [
        ("Order #1234 - Blue Vase", 1234, "3d-printing")]


def test_own_templates_and_no_template_are_offered(app, owner):
    app.post_json("/api/v1/templates/", {"slug": "flow", "name": "Flow <b>", "steps": [
        {"name": "Cut"}]}, headers=owner.headers, status=201)
    form = new_form(app)
    assert "flow" in [o[0] for o in form["template"].options]
    assert "Flow &lt;b&gt;" in form.response.text  # escaped
    form["name"], form["template"], form["number"] = "Plain", "", "77"
    form.submit(status=302)
    created = app.get("/api/v1/trackers/", headers=owner.headers).json[0]
    assert (created["number"], created["template"]) == (77, None)


@pytest.mark.parametrize("name, template, number, field, message", [
    ("", "3d-printing", "", "name", "Name must not be empty"),
    ("A\x00B", "3d-printing", "", "name", "control characters"),
    ("Vase", "nope", "", "template", "Unknown template"),
    ("Vase", "3d-printing", "12x", "number", "whole number"),
    ("Vase", "3d-printing", "99999999999", "number", "whole number"),
    ("Vase", "3d-printing", "0", "number", "whole number"),
    ("Vase", "3d-printing", "5", "number", "already used"),
])
def test_errors_are_shown_next_to_the_field_and_nothing_is_created(
        app, owner, create, database, name, template, number, field, message):
    create("Existing", number=5)
    form = new_form(app)
    form["name"], form["number"] = name, number
    form["template"].force_value(template)
    answer = form.submit(status=400)
    error = answer.html.find(id=f"f-{field}-error")
    assert error is not None and message in error.get_text(), answer.html.find(class_="dash-main")
    assert answer.html.find(id=f"f-{field}")["aria-invalid"] == "true"
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM trackers")) == 1


def test_creating_needs_the_role_and_the_csrf_token(app, registry, tenant, database):
    make_user(registry, "viewer@acme.test", tenant.id, "viewer")
    make_user(registry, "staff@acme.test", tenant.id, "staff")
    log_in(app, "viewer@acme.test")
    assert "New tracker" not in app.get(TRACKERS).text
    token = app.get(TRACKERS).forms[0]["csrf_token"].value
    app.get(TRACKERS + "new", status=403)
    app.post(TRACKERS + "new", {"csrf_token": token, "name": "X", "template": ""}, status=403)
    app.reset()
    log_in(app, "staff@acme.test")
    app.post(TRACKERS + "new", {"name": "X", "template": ""}, status=400)  # no token
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM trackers")) == 0
    new_form(app).submit(status=400)  # the form itself carries it: only the name is missing


def test_the_tracker_page_gives_link_embed_and_qr(app, owner, create):
    tracker = create()
    page = app.get(f"{TRACKERS}{tracker['id']}/")
    link = page.html.find("input", id="tracking-url")
    assert link["value"] == tracker["tracking_url"] and link.has_attr("readonly")
    assert page.html.find("label", attrs={"for": "tracking-url"})
    assert page.html.find("textarea", id="embed-code").get_text() == tracker["embed_code"]
    assert page.html.find("button", attrs={"data-copy": "tracking-url"})
    assert not page.html.find("script", src=False)  # no inline script
    img = page.html.find("section", class_="qr-panel").find("img")
    qr = app.get(f"{TRACKERS}{tracker['id']}/{img['src']}")
    assert qr.content_type == "image/png"
    assert qr.headers["Cache-Control"] == "private, max-age=86400"
    assert Image.open(io.BytesIO(qr.body)).size[0] >= 240
    app.get(qr.request.url, headers={"If-None-Match": qr.headers["ETag"]}, status=304)
    download = page.click("Download QR code")
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="tracker-{tracker["number"]}-qr.png"')
    label = page.click("Print label")
    assert len(label.html.find_all("li", class_="label")) == 1


def test_qr_and_labels_are_for_members_only(app, registry, tenant, other_tenant, create):
    tracker = create()
    app.get(f"{TRACKERS}{tracker['id']}/qr.png", status=302)  # to the login
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    log_in(app, "owner@globex.test")
    app.get(f"/dashboard/globex/trackers/{tracker['id']}/qr.png", status=404)
    sheet = app.get("/dashboard/globex/trackers/labels", {"id": tracker["id"]})
    assert not sheet.html.find_all("li", class_="label")  # acme's id names nothing here


def labels_on(page) -> list[str]:
    return [li.find(class_="label-name").get_text() for li in page.html.find_all("li", "label")]


def test_labels_for_the_ticked_trackers_or_the_search(app, owner, create):
    made = [create(f"Order #{n} <i>Vase</i>", number=n) for n in (1, 2, 3)]
    create("Chess set", number=9)
    listing = app.get(TRACKERS)
    form = listing.forms["labels-form"]
    form.get("id", index=2).checked = True  # newest first: Chess set, #3, #2, #1
    form.get("id", index=3).checked = True
    sheet = form.submit()
    assert labels_on(sheet) == ["Order #2 <i>Vase</i>", "Order #1 <i>Vase</i>"]
    assert "<i>Vase" not in sheet.text  # escaped
    label = sheet.html.find("li", class_="label")
    assert label.find(class_="label-number").get_text() == "#2"
    assert label.find("img")["src"].startswith("data:image/png;base64,")
    searched = app.get(TRACKERS, {"q": "vase"}).click(href=re.compile("labels"))
    assert labels_on(searched) == [f"Order #{n} <i>Vase</i>" for n in (3, 2, 1)]
    assert len(labels_on(app.get(TRACKERS + "labels", {"id": ["x", "0", made[0]["id"]]}))) == 1
    css = app.get(sheet.html.find("link", href=re.compile("labels.css"))["href"]).text
    assert "@page" in css and "@media print" in css


def test_a_sheet_of_500_labels_is_one_quick_request(app, owner, tenant_session, tenant):
    session = tenant_session(tenant.id)
    for n in range(500):
        create_tracker(session, tenant.id, f"Order #{n + 1}", TEST_ACTOR)
    session.commit()
    app.get(TRACKERS + "labels")  # the first sheet renders the codes
    started = time.perf_counter()
    sheet = app.get(TRACKERS + "labels")
    elapsed = time.perf_counter() - started
    print(f"sheet of 500 labels: {elapsed * 1000:.0f} ms, {len(sheet.body)} bytes")
    assert len(sheet.html.find_all("li", class_="label")) == 500
    assert elapsed < 2.0, elapsed  # about 0.2 s here; the codes come from render_qr's cache
    assert len(sheet.body) < 600_000
