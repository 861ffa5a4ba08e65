"""Estimates: expected durations, a promised ready date, late, and the analytics page."""

from datetime import UTC, datetime, timedelta

import pytest
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401
from sqlalchemy import update

from tracee.tracking.estimates import estimate, step_due_at
from tracee.tracking.models import Tracker, TrackerStep
from tracee.tracking.records import StepRecord, TrackerRecord

pytestmark = pytest.mark.usefixtures("cheap_hashing")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEPS = [
    {"name": "Printing", "expected_minutes": 120},
    {"name": "Audit", "visible": False, "expected_minutes": 30},
    {"name": "Packing", "expected_minutes": 60},
]


def _record(steps, ready_by=None, completed_at=None) -> TrackerRecord:
    record = TrackerRecord(1, 1, "Order", "t", T0, T0, completed_at, 0, ready_by, None, None,
                           [StepRecord(i, name, True, started, done, minutes)
                            for i, (name, started, done, minutes) in enumerate(steps, 1)])
    record.step_due_at = step_due_at(record)
    return record


# --- the rules -------------------------------------------------------------------


def test_on_time_the_estimate_is_the_due_time_plus_the_steps_after():
    tracker = _record([("Printing", T0, None, 120), ("Packing", None, None, 60)])
    assert tracker.step_due_at == T0 + timedelta(hours=2)
    now = T0 + timedelta(minutes=30)
    promise = estimate(tracker, now)
    assert (promise.ready_at, promise.source, promise.late) == (
        T0 + timedelta(hours=3), "expected", False)
    assert promise.late_after == T0 + timedelta(hours=2)


def test_between_steps_the_next_is_timed_from_the_end_of_the_one_before():
    done = T0 + timedelta(hours=1)
    tracker = _record([("Printing", T0, done, 120), ("Packing", None, None, 60)])
    assert tracker.step_due_at == done + timedelta(hours=1)


def test_past_its_expectation_the_order_is_late_and_no_date_is_promised():
    tracker = _record([("Printing", T0, None, 120), ("Packing", None, None, 60)])
    promise = estimate(tracker, T0 + timedelta(hours=3))
    assert (promise.ready_at, promise.late, promise.overdue_step) == (None, True, "Printing")


def test_a_set_date_is_the_promise_until_it_passes():
    ready_by = T0 + timedelta(days=2)
    tracker = _record([("Printing", T0, None, 120)], ready_by=ready_by)
    overran = estimate(tracker, T0 + timedelta(hours=5))
    assert (overran.ready_at, overran.source, overran.late) == (ready_by, "set", False)
    assert overran.overdue_step == "Printing"  # for the business's eyes
    passed = estimate(tracker, ready_by + timedelta(minutes=1))
    assert (passed.ready_at, passed.late) == (None, True)


def test_no_estimate_without_durations_or_once_finished():
    unknown = _record([("Printing", T0, None, 120), ("Packing", None, None, None)])
    assert estimate(unknown, T0).ready_at is None and not estimate(unknown, T0).late
    finished = _record([("Printing", T0, T0, 120)], completed_at=T0)
    assert estimate(finished, T0 + timedelta(days=9)).late is False


# --- the API -----------------------------------------------------------------------


@pytest.fixture
def timed(app, tenant):
    app.post_json("/api/v1/templates/", {"slug": "timed", "name": "Timed", "steps": STEPS},
                  headers=tenant.headers, status=201)
    return "timed"


def _backdate(tenant_session, tenant, tracker_id, hours):
    """Move the tracker's clock back ``hours``: its running step is then that much older."""
    session = tenant_session(tenant.id)
    past = datetime.now(UTC) - timedelta(hours=hours)
    session.execute(update(TrackerStep).where(TrackerStep.tracker_id == tracker_id,
                                              TrackerStep.started_at.is_not(None))
                    .values(started_at=past))
    session.execute(update(Tracker).where(Tracker.id == tracker_id)
                    .values(step_due_at=past + timedelta(hours=2)))
    session.commit()


def test_templates_carry_expected_minutes_and_refuse_nonsense(app, tenant, timed):
    body = app.get("/api/v1/templates/timed", headers=tenant.headers).json
    assert [s["expected_minutes"] for s in body["steps"]] == [120, 30, 60]
    for bad in (0, -5, 1.5, "2h", 60 * 24 * 91):
        answer = app.post_json("/api/v1/templates/", {
            "slug": "bad", "name": "Bad", "steps": [{"name": "A", "expected_minutes": bad}]},
            headers=tenant.headers, status=400).json
        assert "expected_minutes" in str(answer)
    app.get("/api/v1/templates/bad", headers=tenant.headers, status=404)


def test_a_tracker_gets_an_estimate_that_turns_late(app, tenant, timed, create, tenant_session):
    created = create("Order #1 - Vase", template=timed)
    assert created["estimated_ready_at"].endswith("Z") and created["is_late"] is False
    assert created["estimate_source"] == "expected"
    app.post_json(f"/api/v1/trackers/{created['id']}/status/",
                  {"process": "Printing", "action": "start"}, headers=tenant.headers)
    _backdate(tenant_session, tenant, created["id"], hours=3)
    late = app.get(f"/api/v1/trackers/{created['id']}/", headers=tenant.headers).json
    assert (late["is_late"], late["estimated_ready_at"]) == (True, None)
    on_time = create("Order #2 - Vase", template=timed)
    listed = app.get("/api/v1/trackers/", {"late": "true"}, headers=tenant.headers).json
    assert [t["id"] for t in listed] == [created["id"]]
    others = app.get("/api/v1/trackers/", {"late": "false"}, headers=tenant.headers).json
    assert [t["id"] for t in others] == [on_time["id"]]


def test_a_promised_date_is_set_shown_and_cleared(app, tenant, create):
    tracker = create()
    url = f"/api/v1/trackers/{tracker['id']}/"
    body = app.patch_json(url, {"estimated_ready_at": "2099-03-01T17:00:00+01:00"},
                          headers=tenant.headers).json
    assert (body["estimated_ready_at"], body["estimate_source"]) == (
        "2099-03-01T16:00:00Z", "set")
    assert app.get(url, headers=tenant.headers).json["estimated_ready_at"] == "2099-03-01T16:00:00Z"
    cleared = app.patch_json(url, {"estimated_ready_at": None}, headers=tenant.headers).json
    assert cleared["estimated_ready_at"] is None  # the built-in template has no durations
    passed = app.patch_json(url, {"estimated_ready_at": "2001-01-01T00:00:00Z"},
                            headers=tenant.headers).json
    assert passed["is_late"] is True


@pytest.mark.parametrize("bad", ["tomorrow", "2026-03-01T17:00:00", "2026-02-30T10:00:00Z",
                                 "0001-01-01T00:00:00+01:00", "２０２６-03-01T17:00:00Z", 5,
                                 "", "2026-03-01T24:00:00Z", "2026-03-01T17:00:00Z\n"])
def test_a_bad_date_is_named_and_changes_nothing(app, tenant, create, bad):
    tracker = create()
    url = f"/api/v1/trackers/{tracker['id']}/"
    answer = app.patch_json(url, {"estimated_ready_at": bad}, headers=tenant.headers,
                            status=400).json
    assert "estimated_ready_at" in str(answer)
    assert app.get(url, headers=tenant.headers).json["estimate_source"] is None
    app.post_json("/api/v1/trackers/", {"name": "X", "estimated_ready_at": bad},
                  headers=tenant.headers, status=400)


def test_another_tenants_tracker_is_not_found(app, tenant, other_tenant, create):
    tracker = create()
    app.patch_json(f"/api/v1/trackers/{tracker['id']}/", {"estimated_ready_at": None},
                   headers=other_tenant.headers, status=404)


# --- the customer's page -------------------------------------------------------------


def test_the_page_shows_the_date_then_says_plainly_when_late(app, tenant, timed, create,
                                                              tenant_session):
    tracker = create(template=timed)
    page = app.get(f"/track/{tracker['tracking_token']}")
    estimate_line = page.html.find(attrs={"data-estimate": True})
    assert "Estimated ready:" in estimate_line.get_text()
    assert estimate_line.find("time")["datetime"] == tracker["estimated_ready_at"]
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": "Audit", "action": "start"}, headers=tenant.headers)
    _backdate(tenant_session, tenant, tracker["id"], hours=3)
    late = app.get(f"/track/{tracker['tracking_token']}")
    text = late.html.find(attrs={"data-estimate": True}).get_text()
    assert "taking longer than expected" in text and "Estimated ready" not in text
    assert "Audit" not in late.text  # the overdue step is hidden: never named
    progress = app.get(f"/track/{tracker['tracking_token']}/progress.json").json
    assert progress["estimate"] == {"late": True, "ready_at": None, "ready_display": None,
                                    "late_after": None}


def test_without_durations_the_page_promises_nothing(app, create):
    tracker = create()
    line = app.get(f"/track/{tracker['tracking_token']}").html.find(attrs={"data-estimate": True})
    assert line.has_attr("hidden") and not line.get_text(strip=True)


# --- the dashboard -------------------------------------------------------------------


def test_expected_hours_are_edited_in_the_template_editor(app, owner, timed):
    page = app.get("/dashboard/acme/settings/workflow-templates/timed/")
    form = next(f for f in page.forms.values() if "count" in f.fields)
    assert form["step-0-hours"].value == "2"
    form["step-2-hours"] = "1.5"
    form.submit(status=302)
    again = app.get("/dashboard/acme/settings/workflow-templates/timed/")
    form = next(f for f in again.forms.values() if "count" in f.fields)
    assert form["step-2-hours"].value == "1.5"
    form["step-1-hours"] = "soon"
    refused = form.submit(status=400)
    assert "Expected hours must be" in refused.html.find(id="step-1-hours-error").get_text()
    assert app.get("/api/v1/templates/timed",
                   headers=owner.headers).json["steps"][1]["expected_minutes"] == 30


def test_the_ready_date_is_set_from_the_tracker_page(app, owner, create):
    tracker = create()
    page = app.get(f"/dashboard/acme/trackers/{tracker['id']}/")
    form = next(f for f in page.forms.values() if "ready_by" in f.fields)
    form["ready_by"] = "2099-05-01T12:30"
    form.submit(status=302)
    api = app.get(f"/api/v1/trackers/{tracker['id']}/", headers=owner.headers).json
    assert api["estimated_ready_at"] == "2099-05-01T12:30:00Z"
    page = app.get(f"/dashboard/acme/trackers/{tracker['id']}/")
    assert "Changed the ready date" in page.text and "Promised" in page.text
    form = next(f for f in page.forms.values() if "ready_by" in f.fields)
    form["ready_by"] = "next week"
    refused = form.submit(status=400)
    assert refused.html.find(id="ready_by-error")
    form = next(f for f in page.forms.values() if "ready_by" in f.fields)
    form.submit("clear", status=302)
    assert app.get(f"/api/v1/trackers/{tracker['id']}/",
                   headers=owner.headers).json["estimated_ready_at"] is None


def test_the_ready_date_form_needs_its_csrf_token(app, owner, create):
    tracker = create()
    app.post(f"/dashboard/acme/trackers/{tracker['id']}/ready-date",
             {"ready_by": "2099-05-01T12:30"}, status=400)
    assert app.get(f"/api/v1/trackers/{tracker['id']}/",
                   headers=owner.headers).json["estimated_ready_at"] is None


def test_the_list_filters_late_trackers(app, owner, timed, create, tenant_session):
    late = create("Order #7 - Late Vase", template=timed)
    create("Order #8 - Fine Vase", template=timed)
    app.post_json(f"/api/v1/trackers/{late['id']}/status/",
                  {"process": "Printing", "action": "start"}, headers=owner.headers)
    _backdate(tenant_session, owner, late["id"], hours=5)
    page = app.get("/dashboard/acme/trackers/", {"status": "late"})
    rows = page.html.find("tbody").find_all("tr")
    assert [r.find("a").get_text() for r in rows] == ["Order #7 - Late Vase"]
    assert "Late" in rows[0].get_text()


def test_analytics_draws_the_last_month_and_exports_csv(app, owner, create, tenant_session):
    tracker = create("Order #9 - Vase", template=None)
    for process in ("=cmd|' /C calc'!A0", "Packing"):
        app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                      {"process": process, "action": "complete"}, headers=owner.headers)
    page = app.get("/dashboard/acme/analytics/")
    assert page.html.find("svg", attrs={"role": "img"}) is not None
    assert "1 started and 1 completed" in page.text
    days = app.get("/dashboard/acme/analytics/days.csv")
    assert days.content_type == "text/csv" and "attachment" in days.content_disposition
    assert days.text.splitlines()[-1].endswith(",1,1")
    steps = app.get("/dashboard/acme/analytics/steps.csv").text.splitlines()
    assert steps[0] == "step,completed,median_minutes,p90_minutes"
    assert any(line.startswith("'=cmd") for line in steps)  # never a live formula


def test_analytics_is_the_tenants_own(app, registry, tenant, other_tenant):
    make_user(registry, "boss@globex.test", other_tenant.id, "owner")
    log_in(app, "boss@globex.test")
    app.get("/dashboard/acme/analytics/", status=404)
    app.get("/dashboard/acme/analytics/steps.csv", status=404)
    app.get("/dashboard/globex/analytics/", status=200)
