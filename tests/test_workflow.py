"""What starting and completing steps means, order numbers, the audit trail, the list.

Most tests go through the API (what integrators see); a few call
``tracee.tracking.workflow`` directly, as the dashboard and the CLI do.
"""

import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import TEST_ACTOR
from sqlalchemy import func, select, text
from webtest import TestApp

from tracee.tracking.models import Tracker, TrackerEvent
from tracee.tracking.reads import read_tracker
from tracee.tracking.workflow import (
    UnknownProcess,
    UnknownTemplate,
    WorkflowError,
    apply_action,
    create_tracker,
)
from tracee.tracking.writes import lock_tracker, save_changes

SIX_STEPS = [
    "Preparing/Slicing", "3D Printing", "Post-Processing",
    "Quality Check", "Packaging", "Ready for Shipping",
]


@pytest.fixture
def act(app, tenant):
    """act(tracker_id, process, action, status=200) -> the JSON body."""

    def post(tracker_id, process, action, status=200, headers=None):
        return app.post_json(
            f"/api/v1/trackers/{tracker_id}/status/", {"process": process, "action": action},
            headers=headers or tenant.headers, status=status,
        ).json

    return post


@pytest.fixture
def read(app, tenant):
    def get(tracker_id):
        return app.get(f"/api/v1/trackers/{tracker_id}/", headers=tenant.headers).json

    return get


@pytest.fixture
def events(tenant_session, tenant):
    """events(tracker_id, tenant_id=tenant.id) -> the tracker's events, in order.

    A fresh session each time, so what the app committed since is visible.
    """

    def load(tracker_id, tenant_id=None):
        session = tenant_session(tenant_id or tenant.id)
        return session.scalars(
            select(TrackerEvent).where(TrackerEvent.tracker_id == tracker_id)
            .order_by(TrackerEvent.seq)
        ).all()

    return load


def statuses(body):
    return [s["status"] for s in body["steps"]]


def history(body):
    return [(h["process"], h["status"]) for h in body["history"]]


def parse_time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- closing, repeating, rework ---------------------------------------------------------


def test_acting_on_a_step_closes_every_earlier_open_step(create, act):
    tracker = create()
    body = act(tracker["id"], "Packaging", "start")
    assert statuses(body) == ["completed"] * 4 + ["in_progress", "pending"]
    for step in body["steps"][:4]:
        # Closed without ever being started: both times are the moment it was closed.
        assert step["started_at"] is not None
        assert step["started_at"] == step["completed_at"]
    assert [name for name, _ in history(body)] == SIX_STEPS[:5]
    assert body["current_process"] == "Packaging"
    assert body["is_completed"] is False

    done = act(tracker["id"], "Ready for Shipping", "complete")
    assert statuses(done) == ["completed"] * 6
    assert done["is_completed"] is True


def test_starting_a_later_step_completes_the_one_in_progress(create, act):
    tracker = create()
    first = act(tracker["id"], "3D Printing", "start")
    printing_started = first["steps"][1]["started_at"]
    body = act(tracker["id"], "Quality Check", "start")
    assert statuses(body) == ["completed", "completed", "completed", "in_progress",
                              "pending", "pending"]
    # The step that was running keeps the time it really started.
    assert body["steps"][1]["started_at"] == printing_started
    assert body["steps"][1]["completed_at"] is not None
    assert body["current_process"] == "Quality Check"


def test_completing_a_later_step_closes_earlier_ones(create, act):
    tracker = create()
    body = act(tracker["id"], "Post-Processing", "complete")
    assert statuses(body) == ["completed"] * 3 + ["pending"] * 3
    assert history(body) == [(name, "completed") for name in SIX_STEPS[:3]]
    assert body["current_process"] == "Post-Processing"
    assert body["is_completed"] is False


def test_repeating_an_action_that_already_holds_changes_nothing(create, act, read, events):
    tracker = create()
    started = act(tracker["id"], "3D Printing", "start")
    count = len(events(tracker["id"]))
    assert act(tracker["id"], "3D Printing", "start") == started
    assert act(tracker["id"], "  3d printing ", "start") == started
    assert len(events(tracker["id"])) == count

    completed = act(tracker["id"], "3D Printing", "complete")
    count = len(events(tracker["id"]))
    assert count > 0
    assert act(tracker["id"], "3D Printing", "complete") == completed
    # Completing a step that was already closed by a later one: nothing to do either.
    assert act(tracker["id"], "Preparing/Slicing", "complete") == completed
    assert len(events(tracker["id"])) == count
    assert read(tracker["id"]) == completed

    finished = act(tracker["id"], "Ready for Shipping", "complete")
    count = len(events(tracker["id"]))
    assert act(tracker["id"], "Ready for Shipping", "complete") == finished
    assert act(tracker["id"], "Packaging", "complete") == finished
    assert len(events(tracker["id"])) == count
    assert [e.type for e in events(tracker["id"])].count("tracker.completed") == 1


def test_start_on_an_earlier_step_reopens_it_and_resets_later_ones(app, tenant, create, act,
                                                                   events):
    tracker = create()
    finished = act(tracker["id"], "Ready for Shipping", "complete")
    assert finished["is_completed"] is True
    done_ids = [t["id"] for t in
                app.get("/api/v1/trackers/?completed=true", headers=tenant.headers).json]
    assert done_ids == [tracker["id"]]
    before = len(events(tracker["id"]))

    body = act(tracker["id"], "3D Printing", "start")
    assert body["is_completed"] is False
    assert statuses(body) == ["completed", "in_progress"] + ["pending"] * 4
    for step in body["steps"][2:]:
        assert step["started_at"] is None and step["completed_at"] is None
    assert body["steps"][1]["completed_at"] is None
    assert parse_time(body["steps"][1]["started_at"]) >= parse_time(
        finished["steps"][1]["started_at"])
    assert body["steps"][0] == finished["steps"][0]
    assert history(body) == [("Preparing/Slicing", "completed"), ("3D Printing", "in_progress")]
    assert body["current_process"] == "3D Printing"

    new = [(e.type, e.process) for e in events(tracker["id"])[before:]]
    assert new == [("step.reopened", "3D Printing"), ("step.started", "3D Printing")] + [
        ("step.reset", name) for name in SIX_STEPS[2:]]

    assert app.get("/api/v1/trackers/?completed=true", headers=tenant.headers).json == []
    open_ids = [t["id"] for t in
                app.get("/api/v1/trackers/?completed=false", headers=tenant.headers).json]
    assert open_ids == [tracker["id"]]


def test_rework_while_a_later_step_is_in_progress(create, act):
    tracker = create()
    act(tracker["id"], "Packaging", "start")
    body = act(tracker["id"], "Post-Processing", "start")
    assert statuses(body) == ["completed", "completed", "in_progress"] + ["pending"] * 3
    assert body["current_process"] == "Post-Processing"
    # And forward again: starting Packaging closes the re-opened step.
    again = act(tracker["id"], "Packaging", "start")
    assert statuses(again) == ["completed"] * 4 + ["in_progress", "pending"]


def test_is_completed_only_once_the_last_step_is_completed(create, act, events):
    tracker = create()
    assert create()["is_completed"] is False
    body = act(tracker["id"], "Ready for Shipping", "start")
    assert statuses(body) == ["completed"] * 5 + ["in_progress"]
    assert body["is_completed"] is False
    assert "tracker.completed" not in [e.type for e in events(tracker["id"])]
    body = act(tracker["id"], "Ready for Shipping", "complete")
    assert body["is_completed"] is True
    assert [e.type for e in events(tracker["id"])][-1] == "tracker.completed"


def test_current_process_is_the_last_started_step(create, act):
    tracker = create()
    assert tracker["current_process"] is None
    assert tracker["history"] == []
    assert act(tracker["id"], "Post-Processing", "start")["current_process"] == "Post-Processing"
    # Completing it does not move current_process on: nothing later has started.
    assert act(tracker["id"], "Post-Processing", "complete")["current_process"] == (
        "Post-Processing")
    assert act(tracker["id"], "Quality Check", "start")["current_process"] == "Quality Check"
    assert act(tracker["id"], "Preparing/Slicing", "start")["current_process"] == (
        "Preparing/Slicing")


# --- process names ------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["3d printing", "3D PRINTING", "  3D   Printing  ",
                                      " 3d  printing"])
def test_process_names_match_ignoring_case_and_spaces(create, act, spelling):
    tracker = create()
    body = act(tracker["id"], spelling, "start")
    assert body["current_process"] == "3D Printing"
    assert [s["name"] for s in body["steps"]] == SIX_STEPS


def test_process_names_match_any_white_space_in_the_domain(tenant, tenant_session):
    session = tenant_session(tenant.id)
    tracker = create_tracker(session, tenant.id, "Order #1", TEST_ACTOR, template="3d-printing")
    assert apply_action(session, tracker, "\t3d\n printing ", "start", TEST_ACTOR) is True
    assert apply_action(session, tracker, "3D PRINTING", "start", TEST_ACTOR) is False
    assert [s.status for s in tracker.steps][:2] == ["completed", "in_progress"]


def test_only_a_tracker_read_for_update_or_inserted_can_be_saved(tenant, tenant_session):
    """A record read only to be shown keeps no snapshot of its stored steps, so
    saving one would not know what changed: it is refused, not half-written."""
    session = tenant_session(tenant.id)
    created = create_tracker(session, tenant.id, "Order #1", TEST_ACTOR, template="3d-printing")
    assert apply_action(session, created, "3d printing", "start", TEST_ACTOR) is True
    session.commit()
    shown = read_tracker(session, created.id)
    assert shown.stored is None
    with pytest.raises(ValueError, match="lock_tracker"):
        save_changes(session, shown, [])
    locked = lock_tracker(session, created.id)
    assert locked.stored == {s.position: (s.started_at, s.completed_at) for s in shown.steps}


def test_unknown_process_lists_the_valid_names(create, act, read, events):
    tracker = create()
    before = len(events(tracker["id"]))
    body = act(tracker["id"], "Teleporting", "start", status=400)
    (error,) = body["errors"]
    assert error["location"] == "body"
    assert error["name"] == "process"
    assert "Teleporting" in error["description"]
    for name in SIX_STEPS:
        assert name in error["description"]
    # Nothing happened.
    assert read(tracker["id"]) == tracker
    assert len(events(tracker["id"])) == before


def test_unknown_process_on_a_tenant_template(app, tenant, act):
    app.post_json("/api/v1/templates/", {
        "slug": "bakery", "name": "Bakery",
        "steps": [{"name": "Mixing"}, {"name": "Baking"}, {"name": "Boxing", "visible": False}],
    }, headers=tenant.headers, status=201)
    tracker = app.post_json("/api/v1/trackers/", {"name": "Cake", "template": "bakery"},
                            headers=tenant.headers, status=201).json
    error = act(tracker["id"], "3D Printing", "start", status=400)["errors"][0]
    assert error["name"] == "process"
    assert all(name in error["description"] for name in ("Mixing", "Baking", "Boxing"))


def test_bad_action_and_missing_fields_are_400(create, act, app, tenant):
    tracker = create()
    assert act(tracker["id"], "3D Printing", "finish", status=400)["errors"][0]["name"] == (
        "action")
    assert act(tracker["id"], "", "start", status=400)["errors"][0]["name"] == "process"
    missing = app.post_json(f"/api/v1/trackers/{tracker['id']}/status/", {"action": "start"},
                            headers=tenant.headers, status=400).json
    assert [e["name"] for e in missing["errors"]] == ["process"]
    app.post_json("/api/v1/trackers/999999/status/", {"process": "3D Printing",
                                                      "action": "start"},
                  headers=tenant.headers, status=404)


def test_domain_errors(tenant, tenant_session):
    session = tenant_session(tenant.id)
    with pytest.raises(UnknownTemplate):
        create_tracker(session, tenant.id, "Order", TEST_ACTOR, template="no-such")
    tracker = create_tracker(session, tenant.id, "Order", TEST_ACTOR, template="print-shop")
    with pytest.raises(UnknownProcess) as unknown:
        apply_action(session, tracker, "Kiln", "start", TEST_ACTOR)
    assert unknown.value.details["valid"] == [
        "Artwork Received", "Proof Approval", "Printing", "Finishing", "Quality Check",
        "Ready for Pickup"]
    with pytest.raises(WorkflowError):
        apply_action(session, tracker, "Printing", "pause", TEST_ACTOR)
    assert all(s.status == "pending" for s in tracker.steps)


# --- trackers without a template -----------------------------------------------------------


def test_tracker_without_template_takes_steps_from_status_updates(create, act, events):
    tracker = create("Order #9 - Oak Table", template=None)
    assert tracker["template"] is None
    assert tracker["steps"] == [] and tracker["history"] == []
    assert tracker["current_process"] is None and tracker["is_completed"] is False

    body = act(tracker["id"], "  Cutting   Wood ", "start")
    assert [(s["name"], s["order"], s["visible"], s["status"]) for s in body["steps"]] == [
        ("Cutting Wood", 1, True, "in_progress")]

    body = act(tracker["id"], "Sanding", "start")
    assert [(s["name"], s["status"]) for s in body["steps"]] == [
        ("Cutting Wood", "completed"), ("Sanding", "in_progress")]
    # Known names are matched, not added again.
    assert act(tracker["id"], "cutting wood", "complete") == body
    assert act(tracker["id"], "SANDING", "start") == body

    # The last step so far is completed, so the tracker is (for now) complete.
    body = act(tracker["id"], "sanding", "complete")
    assert body["is_completed"] is True
    body = act(tracker["id"], "Varnish", "complete")
    assert [(s["name"], s["order"], s["status"]) for s in body["steps"]] == [
        ("Cutting Wood", 1, "completed"), ("Sanding", 2, "completed"),
        ("Varnish", 3, "completed")]
    assert body["is_completed"] is True
    body = act(tracker["id"], "Delivery", "start")
    assert body["is_completed"] is False
    assert body["current_process"] == "Delivery"
    assert [h["process"] for h in body["history"]] == ["Cutting Wood", "Sanding", "Varnish",
                                                       "Delivery"]
    started = [e.process for e in events(tracker["id"]) if e.type == "step.started"]
    assert started == ["Cutting Wood", "Sanding", "Delivery"]


# --- hidden steps -------------------------------------------------------------------------


def test_hidden_steps_appear_in_the_api(app, create, act):
    tracker = create()
    hidden = [s for s in tracker["steps"] if not s["visible"]]
    assert [(s["name"], s["order"]) for s in hidden] == [("Quality Check", 4)]
    body = act(tracker["id"], "Quality Check", "start")
    assert body["current_process"] == "Quality Check"
    assert ("Quality Check", "in_progress") in history(body)
    assert body["steps"][3]["visible"] is False

    # ... but not on the customer's page.
    page = app.get(f"/track/{tracker['tracking_token']}")
    assert "Post-Processing" in page.text
    assert "Quality Check" not in page.text


# --- order numbers ------------------------------------------------------------------------


def test_explicit_number(create):
    assert create("Blue Vase", number=77)["number"] == 77
    # An explicit number wins over the one in the name.
    assert create("Order #5678", number=9000)["number"] == 9000


@pytest.mark.parametrize(("name", "number"), [
    ("Order #5678 - Custom Chess Set", 5678),
    ("Order # 42", 42),
    ("#7", 7),
    ("Re-print of #31 (second try)", 31),
])
def test_number_from_digits_after_hash_in_name(create, name, number):
    assert create(name)["number"] == number


def test_numbers_without_hash_or_taken_fall_back_to_the_next_free(create):
    assert create("Blue Vase")["number"] == 1
    assert create("Order #5678")["number"] == 5678
    assert create("Order #5678 again")["number"] == 5679
    assert create("Green Vase")["number"] == 5680
    assert create("Order #0")["number"] == 5681
    assert create("Order #2147483648")["number"] == 5682  # out of range: not a number
    # Longer runs of digits are not cut to their first ten.
    assert create("Order #12345678901")["number"] == 5683
    assert create("Order #3")["number"] == 3


def test_a_number_in_a_name_cannot_exhaust_the_numbers(create):
    """Customer text may carry the largest number; it takes that one number, nothing more."""
    assert create("Mug #2147483647 (as typed by the customer)")["number"] == 2**31 - 1
    assert [create(f"Mug {n}")["number"] for n in range(3)] == [1, 2, 3]
    assert create("Order #2147483647 again")["number"] == 4


def test_numbers_far_above_the_ids_do_not_move_the_sequence(create):
    assert create("Order #5000")["number"] == 5000  # within reach of the ids: the sequence
    assert create("Plain")["number"] == 5001
    assert create("Note #900000 from the customer")["number"] == 900000  # far above
    assert create("Plain")["number"] == 5002


def test_the_sequence_steps_over_numbers_held_at_the_edge_of_its_reach(create):
    """Names holding the numbers at and just past the reach send it past the highest."""
    for n in (10_004, 10_005, 30_000):  # ids 1-3
        create(f"Order #{n}")
    # id 4 reaches up to 10,004, which is taken, and so is 10,005.
    assert create("Plain")["number"] == 30_001


def test_numbering_falls_back_to_the_first_gap_when_the_top_is_full(
        create, database, tenant):
    """Even a tenant whose id is next to the top, with every number above taken, gets one."""
    top = 2**31 - 1
    for n in (top - 1, top):
        create(f"Order #{n}")
    with database.admin_engine.begin() as conn:
        conn.execute(text("UPDATE tenants SET tracker_seq = :n WHERE id = :t"),
                     {"n": top - 2, "t": tenant.id})
    assert create("Plain")["number"] == 1


def test_explicit_duplicate_number_is_409_and_leaves_nothing(app, tenant, create):
    create("Order #1234")
    refused = app.post_json("/api/v1/trackers/", {"name": "Other", "number": 1234},
                            headers=tenant.headers, status=409).json
    (error,) = refused["errors"]
    assert error["name"] == "number"
    assert "1234" in error["description"]
    listed = app.get("/api/v1/trackers/", headers=tenant.headers)
    assert listed.headers["X-Total-Count"] == "1"
    # The next tracker still gets the id after the first one: nothing was used up.
    assert create("Next")["id"] == listed.json[0]["id"] + 1


@pytest.mark.parametrize("bad", ["5", 0, -1, True, 5.5, 2**31])
def test_invalid_explicit_numbers_are_400(app, tenant, bad):
    refused = app.post_json("/api/v1/trackers/", {"name": "Order", "number": bad},
                            headers=tenant.headers, status=400).json
    assert [e["name"] for e in refused["errors"]] == ["number"]


def test_numbers_are_per_tenant(app, tenant, other_tenant, create):
    assert create("Order #1234")["number"] == 1234
    theirs = app.post_json("/api/v1/trackers/", {"name": "Order #1234"},
                           headers=other_tenant.headers, status=201).json
    assert theirs["number"] == 1234
    explicit = app.post_json("/api/v1/trackers/", {"name": "Order", "number": 1234},
                             headers=other_tenant.headers, status=409).json
    assert explicit["errors"][0]["name"] == "number"
    assert app.post_json("/api/v1/trackers/", {"name": "Vase"},
                         headers=other_tenant.headers, status=201).json["number"] == 1235
    assert create("Vase")["number"] == 1235
    # Ids are per tenant too, and another tenant's id is not found.
    assert theirs["id"] == 1
    third = create("Third")
    assert third["id"] == 3
    app.get("/api/v1/trackers/3/", headers=tenant.headers, status=200)
    app.get("/api/v1/trackers/3/", headers=other_tenant.headers, status=404)


# --- the audit trail ----------------------------------------------------------------------


def test_every_change_is_an_event_with_actor_and_time(create, act, events, tenant):
    before = datetime.now(UTC)
    tracker = create()
    act(tracker["id"], "3D Printing", "start")
    act(tracker["id"], "3D Printing", "start")  # no change, no event
    act(tracker["id"], "Ready for Shipping", "complete")
    after = datetime.now(UTC)

    recorded = events(tracker["id"])
    assert [(e.type, e.process) for e in recorded] == [
        ("tracker.created", None),
        ("step.completed", "Preparing/Slicing"),
        ("step.started", "3D Printing"),
        ("step.completed", "3D Printing"),
        ("step.completed", "Post-Processing"),
        ("step.completed", "Quality Check"),
        ("step.completed", "Packaging"),
        ("step.completed", "Ready for Shipping"),
        ("tracker.completed", None),
    ]
    assert [e.seq for e in recorded] == list(range(1, len(recorded) + 1))
    assert {e.actor for e in recorded} == {f"key:{tenant.key_id}"}
    for event in recorded:
        assert event.created_at.tzinfo is not None
        assert before - timedelta(seconds=1) <= event.created_at <= after + timedelta(seconds=1)
    assert recorded == sorted(recorded, key=lambda e: e.created_at)
    # One request, one moment: the events of the final update share their time.
    assert len({e.created_at for e in recorded[3:]}) == 1


def test_events_name_the_key_that_acted(tenant, create, act, events, registry):
    from tracee.api.keys import issue_key

    session = registry["db.session_factory"]()
    second = issue_key(session, tenant.id, "second key")
    session.commit()
    session.close()
    tracker = create()
    act(tracker["id"], "3D Printing", "start", headers={"X-API-Key": second.secret})
    actors = [(e.type, e.actor) for e in events(tracker["id"])]
    assert actors[0] == ("tracker.created", f"key:{tenant.key_id}")
    assert actors[-1] == ("step.started", f"key:{second.record.id}")
    assert second.record.id != tenant.key_id


def test_domain_calls_record_their_actor(tenant, tenant_session, events):
    session = tenant_session(tenant.id)
    tracker = create_tracker(session, tenant.id, "Order #5", TEST_ACTOR, template="3d-printing")
    apply_action(session, tracker, "Packaging", "complete", TEST_ACTOR)
    session.commit()
    recorded = events(tracker.id)
    assert {e.actor for e in recorded} == {"test"}
    assert len(recorded) == 1 + 5  # created, five completed


def test_refused_updates_record_nothing(app, create, act, events, other_tenant):
    tracker = create()
    act(tracker["id"], "Nope", "start", status=400)
    act(tracker["id"], "3D Printing", "start", status=404, headers=other_tenant.headers)
    assert [e.type for e in events(tracker["id"])] == ["tracker.created"]


# --- the list -----------------------------------------------------------------------------


def _links(response):
    links = {}
    for part in response.headers["Link"].split(", "):
        match = re.fullmatch(r'<([^>]+)>; rel="(\w+)"', part)
        assert match, part
        url = urlsplit(match.group(1))
        assert f"{url.scheme}://{url.netloc}{url.path}" == "https://tracee.test/api/v1/trackers/"
        links[match.group(2)] = {k: v[0] for k, v in parse_qs(url.query).items()}
    return links


def test_list_is_newest_first_and_paginated(app, tenant, create):
    ids = [create(f"Order #{n}")["id"] for n in range(101, 106)]
    listed = app.get("/api/v1/trackers/", headers=tenant.headers)
    assert [t["id"] for t in listed.json] == ids[::-1]
    assert listed.headers["X-Total-Count"] == "5"
    assert set(listed.json[0]) >= {"id", "number", "name", "tracking_url", "current_process",
                                   "is_completed", "created_at"}

    page1 = app.get("/api/v1/trackers/?per_page=2", headers=tenant.headers)
    assert [t["id"] for t in page1.json] == ids[:2:-1]
    assert page1.headers["X-Total-Count"] == "5"
    links = _links(page1)
    assert set(links) == {"first", "last", "next"}
    assert links["next"] == {"page": "2", "per_page": "2"}
    assert links["last"] == {"page": "3", "per_page": "2"}

    page2 = app.get("/api/v1/trackers/?per_page=2&page=2", headers=tenant.headers)
    assert [t["id"] for t in page2.json] == [ids[2], ids[1]]
    assert set(_links(page2)) == {"first", "prev", "next", "last"}
    assert _links(page2)["prev"]["page"] == "1"

    page3 = app.get("/api/v1/trackers/?per_page=2&page=3", headers=tenant.headers)
    assert [t["id"] for t in page3.json] == [ids[0]]
    assert set(_links(page3)) == {"first", "prev", "last"}

    beyond = app.get("/api/v1/trackers/?per_page=2&page=9", headers=tenant.headers)
    assert beyond.json == []
    assert beyond.headers["X-Total-Count"] == "5"

    # Following the links walks every tracker once.
    seen, query = [], {"per_page": "2"}
    while True:
        response = app.get("/api/v1/trackers/", query, headers=tenant.headers)
        seen += [t["id"] for t in response.json]
        links = _links(response)
        if "next" not in links:
            break
        query = links["next"]
    assert seen == ids[::-1]


@pytest.mark.parametrize("query", ["per_page=0", "per_page=101", "page=0", "page=abc",
                                   "completed=maybe"])
def test_list_rejects_bad_query_values(app, tenant, query):
    body = app.get(f"/api/v1/trackers/?{query}", headers=tenant.headers, status=400).json
    assert body["errors"][0]["location"] == "querystring"
    assert body["errors"][0]["name"] == query.split("=")[0]


def test_list_filters_by_completion(app, tenant, create, act):
    done = create("Order #1")
    open_one = create("Order #2")
    act(done["id"], "Ready for Shipping", "complete")
    act(open_one["id"], "Packaging", "complete")

    def ids(query):
        response = app.get(f"/api/v1/trackers/?{query}", headers=tenant.headers)
        return [t["id"] for t in response.json], response.headers["X-Total-Count"]

    assert ids("completed=true") == ([done["id"]], "1")
    assert ids("completed=false") == ([open_one["id"]], "1")
    assert ids("completed=1")[0] == [done["id"]]
    assert ids("completed=0")[0] == [open_one["id"]]
    assert ids("") == ([open_one["id"], done["id"]], "2")


def test_list_search_by_name_and_number(app, tenant, other_tenant, create):
    chess = create("Order #5678 - Custom Chess Set")
    vase = create("Blue Vase", number=31)
    cotton = create("100% Cotton Bag")
    app.post_json("/api/v1/trackers/", {"name": "Their Chess Board"},
                  headers=other_tenant.headers, status=201)

    def search(q):
        response = app.get("/api/v1/trackers/", {"q": q}, headers=tenant.headers)
        assert response.headers["X-Total-Count"] == str(len(response.json))
        return [t["id"] for t in response.json]

    assert search("chess") == [chess["id"]]
    assert search("CHESS set") == [chess["id"]]
    assert search("vase") == [vase["id"]]
    assert search("5678") == [chess["id"]]
    assert search("#5678") == [chess["id"]]
    assert search("31") == [vase["id"]]  # by number; the name has no 31
    assert search("%") == [cotton["id"]]  # wildcards are literal
    assert search("_") == []
    assert search("nothing like it") == []
    # Numbers no tracker can have are simply not found (not a database error).
    assert search("9999999999") == []
    assert search("#2147483648") == []
    assert search("²") == []
    assert search("") == [cotton["id"], vase["id"], chess["id"]]
    # The page links keep the search.
    response = app.get("/api/v1/trackers/", {"q": "o", "per_page": "1"}, headers=tenant.headers)
    assert _links(response)["next"] == {"q": "o", "per_page": "1", "page": "2"}


def test_list_shows_only_the_tenants_own(app, tenant, other_tenant, create):
    mine = create()
    app.post_json("/api/v1/trackers/", {"name": "Theirs"}, headers=other_tenant.headers,
                  status=201)
    listed = app.get("/api/v1/trackers/", headers=tenant.headers)
    assert [t["id"] for t in listed.json] == [mine["id"]]
    assert listed.headers["X-Total-Count"] == "1"


def test_the_tracker_row_agrees_with_its_steps(app, tenant, tenant_session, create, act):
    tracker = create()
    act(tracker["id"], "Ready for Shipping", "complete")
    act(tracker["id"], "Packaging", "start")
    session = tenant_session(tenant.id)
    row = session.scalar(select(Tracker).where(Tracker.id == tracker["id"]))
    assert row.completed_at is None
    assert row.event_seq == session.scalar(
        select(func.count()).select_from(TrackerEvent).where(
            TrackerEvent.tracker_id == tracker["id"]))


# --- concurrent requests ------------------------------------------------------------------


def _in_parallel(wsgi_app, calls):
    """Run each call(TestApp) in its own thread, all released at once; return the responses."""
    barrier = threading.Barrier(len(calls))
    responses = [None] * len(calls)

    def run(index, call):
        client = TestApp(wsgi_app)
        barrier.wait()
        responses[index] = call(client)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_concurrent_updates_of_one_tracker_all_apply(wsgi_app, tenant, create, read, events):
    tracker = create()

    def update(process, action):
        return lambda client: client.post_json(
            f"/api/v1/trackers/{tracker['id']}/status/", {"process": process, "action": action},
            headers=tenant.headers, expect_errors=True)

    calls = [update(name, "complete") for name in SIX_STEPS] + [update("3D Printing", "start")] * 2
    responses = _in_parallel(wsgi_app, calls)
    assert [r.status_int for r in responses] == [200] * len(calls), [
        r.body[:200] for r in responses if r.status_int != 200]

    recorded = events(tracker["id"])
    assert [e.seq for e in recorded] == list(range(1, len(recorded) + 1))
    # Whatever the order, every step ended up decided and the trail is consistent.
    final = read(tracker["id"])
    assert all(s["status"] != "pending" for s in final["steps"][:2])
    assert final["is_completed"] == (final["steps"][-1]["status"] == "completed")


def test_concurrent_creates_get_distinct_numbers(wsgi_app, tenant, app):
    def make(client):
        return client.post_json("/api/v1/trackers/", {"name": "Order #500"},
                                headers=tenant.headers, expect_errors=True)

    responses = _in_parallel(wsgi_app, [make] * 6)
    assert [r.status_int for r in responses] == [201] * 6
    assert sorted(r.json["number"] for r in responses) == list(range(500, 506))
    assert sorted(r.json["id"] for r in responses) == list(range(1, 7))


def test_a_start_retried_after_its_complete_changes_nothing(app, tenant, create):
    tracker = create()
    url = f"/api/v1/trackers/{tracker['id']}/status/"
    app.post_json(url, {"process": "3D Printing", "action": "start"}, headers=tenant.headers)
    done = app.post_json(
        url, {"process": "3D Printing", "action": "complete"}, headers=tenant.headers
    ).json
    retried = app.post_json(
        url, {"process": "3D Printing", "action": "start"}, headers=tenant.headers
    ).json
    assert retried["steps"] == done["steps"]
    assert retried["updated_at"] == done["updated_at"]
