"""Trackers in the dashboard: list, search, a tracker's page, Start / Complete."""

import pytest
import sqlalchemy as sa
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401

pytestmark = pytest.mark.usefixtures("cheap_hashing")
TRACKERS = "/dashboard/acme/trackers/"


def names(page) -> list[str]:
    return [row.find_all("td")[1].get_text() for row in page.html.find("tbody").find_all("tr")]


def test_list_is_newest_first_searchable_filterable_and_paged(app, owner, create):
    for n in range(1, 28):
        create(f"Order #{n} - Vase", number=100 + n)
    done = create("Order #999 - Chess Set", template=None)
    app.post_json(f"/api/v1/trackers/{done['id']}/status/",
                  {"process": "Shipped", "action": "complete"}, headers=owner.headers)
    first = app.get(TRACKERS)
    assert "28 trackers" in first.text
    assert names(first)[:2] == ["Order #999 - Chess Set", "Order #27 - Vase"]
    assert len(names(first)) == 25
    second = first.click("Next")
    assert names(second) == ["Order #3 - Vase", "Order #2 - Vase", "Order #1 - Vase"]
    assert names(app.get(TRACKERS, {"q": "chess"})) == ["Order #999 - Chess Set"]
    assert names(app.get(TRACKERS, {"q": "#105"})) == ["Order #5 - Vase"]
    assert names(app.get(TRACKERS, {"status": "completed"})) == ["Order #999 - Chess Set"]
    assert "27 trackers" in app.get(TRACKERS, {"status": "in_progress"}).text
    for odd in ({"page": "x"}, {"page": "-3"}, {"status": "maybe"}, {"q": "nul\x00"},
                {"q": "%"}, {"page": "99999999999999999999"}):
        app.get(TRACKERS, odd, status=200)
    assert "No trackers match" in app.get(TRACKERS, {"q": "nothing like it"}).text


def test_start_and_complete_from_the_tracker_page(app, owner, create):
    tracker = create("Order #1234 - Blue Vase")
    page = app.get(TRACKERS).click("Order #1234 - Blue Vase")
    buttons = [b.get_text() for b in page.html.find_all("button")]
    assert "Start 3D Printing" in buttons and "Complete Ready for Shipping" in buttons
    form = next(f for f in page.forms.values()
                if f.fields.get("process") and f["process"].value == "3D Printing"
                and f["action"].value == "start")
    after = form.submit(status=302).follow()
    api = app.get(f"/api/v1/trackers/{tracker['id']}/", headers=owner.headers).json
    assert api["current_process"] == "3D Printing"
    history = after.html.find("ol", class_="history").get_text(" ", strip=True)
    assert "Started 3D Printing · by owner@acme.test" in history
    assert "Created · by API key “test key”" in history
    # the tracking page follows
    public = app.get(tracker["tracking_url"].replace("https://tracee.test", ""))
    assert "3D Printing" in public.text


def test_hidden_steps_are_marked_internal(app, owner, create):
    app.post_json("/api/v1/templates/", {"slug": "flow", "name": "Flow", "steps": [
        {"name": "Cut"}, {"name": "Quality check", "visible": False}]}, headers=owner.headers,
        status=201)
    tracker = create("Order #7", template="flow")
    page = app.get(f"{TRACKERS}{tracker['id']}/")
    item = [li for li in page.html.find("ol", class_="dash-steps").find_all("li")
            if "Quality check" in li.get_text()][0]
    assert "(internal)" in item.get_text()


def test_a_bad_step_is_explained_and_changes_nothing(app, owner, create, database):
    tracker = create()
    page = app.get(f"{TRACKERS}{tracker['id']}/")
    token = page.forms[0]["csrf_token"].value
    answer = app.post(f"{TRACKERS}{tracker['id']}/status",
                      {"csrf_token": token, "process": "Teleport", "action": "start"},
                      status=400)
    assert "unknown process" in answer.html.find(class_="form-error").get_text()
    app.post(f"{TRACKERS}{tracker['id']}/status",
             {"csrf_token": token, "process": "3D Printing", "action": "explode"}, status=400)
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM tracker_steps "
                                   "WHERE started_at IS NOT NULL")) == 0


def test_a_status_change_without_its_csrf_token_changes_nothing(app, owner, create):
    tracker = create()
    app.post(f"{TRACKERS}{tracker['id']}/status",
             {"process": "3D Printing", "action": "start"}, status=400)
    api = app.get(f"/api/v1/trackers/{tracker['id']}/", headers=owner.headers).json
    assert api["current_process"] is None


@pytest.mark.parametrize("role, allowed", [("staff", True), ("viewer", False)])
def test_staff_move_trackers_and_viewers_only_look(app, registry, tenant, create, role, allowed):
    tracker = create()
    make_user(registry, f"{role}@acme.test", tenant.id, role)
    log_in(app, f"{role}@acme.test")
    page = app.get(f"{TRACKERS}{tracker['id']}/")
    assert bool(page.html.find("button", string="Start 3D Printing")) is allowed
    token = page.forms[0]["csrf_token"].value  # the user menu's form
    app.post(f"{TRACKERS}{tracker['id']}/status",
             {"csrf_token": token, "process": "3D Printing", "action": "start"},
             status=302 if allowed else 403)
    api = app.get(f"/api/v1/trackers/{tracker['id']}/", headers=tenant.headers).json
    assert (api["current_process"] == "3D Printing") is allowed


def test_another_tenants_tracker_is_not_found(app, registry, tenant, other_tenant, create):
    tracker = create()
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    log_in(app, "owner@globex.test")
    token = app.get("/dashboard/globex/trackers/").forms[0]["csrf_token"].value
    theirs = f"/dashboard/globex/trackers/{tracker['id']}/"
    app.get(theirs, status=404)
    app.post(theirs + "status", {"csrf_token": token, "process": "3D Printing",
                                 "action": "start"}, status=404)
    for odd in ("0", "99999999999", "%C2%B2", "1.5"):
        app.get(f"/dashboard/globex/trackers/{odd}/", status=404)
