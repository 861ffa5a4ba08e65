"""Names in one spelling: two names that look alike are the same name, or an error.

Names are stored NFC ("é" typed as one character or as "e" + accent is one
name), and invisible format characters (zero-width, bidirectional marks,
overrides and isolates, BOM, word joiner...) are refused, through the API
and in the domain functions the command line and the API share.
"""

import unicodedata

import pytest
from conftest import TEST_ACTOR
from test_hostile_input import assert_json_error

from tracee.tenancy.service import TenantError, create_tenant
from tracee.text import InvalidName, clean_name, name_key, name_problem
from tracee.tracking.builtin_templates import StepSpec
from tracee.tracking.templates import InvalidTemplate, create_template
from tracee.tracking.workflow import WorkflowError, apply_action, create_tracker

COMPOSED, DECOMPOSED = "Caf\u00e9", "Cafe\u0301"
INVISIBLE = [
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f",  # zero-width, joiners, marks
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2060", "\u2066", "\u2067", "\u2068", "\u2069",  # word joiner, isolates
    "\ufeff", "\u00ad", "\u061c", "\U000e0041",  # BOM, soft hyphen, Arabic mark, tag
]


@pytest.mark.parametrize("char", INVISIBLE)
def test_invisible_characters_are_no_part_of_a_name(char):
    problem = name_problem(f"Print{char}ing")
    assert problem is not None and f"U+{ord(char):04X}" in problem
    with pytest.raises(InvalidName, match="invisible"):
        clean_name(f"Print{char}ing")


@pytest.mark.parametrize("name", ["Café", "東京の工房", "Zoë's mug", "Vase 🎨", "Ärger & Co."])
def test_visible_names_in_any_script_are_kept(name):
    assert clean_name(f"  {name} ") == name


def test_one_spelling_and_one_key_for_names_that_look_alike():
    assert COMPOSED != DECOMPOSED
    assert clean_name(DECOMPOSED) == COMPOSED
    assert name_key(f" {DECOMPOSED}  SHOP") == name_key(f"{COMPOSED.upper()} shop")


# -- through the API ----------------------------------------------------------------------

@pytest.mark.parametrize("char", ["\u200b", "\u202e", "\u2066", "\ufeff"])
def test_the_api_refuses_invisible_characters_in_every_name(app, tenant, create, char):
    name = f"Pa{char}cking"
    assert_json_error(app.post_json("/api/v1/trackers/", {"name": name}, headers=tenant.headers,
                                    status=400), 400, name="name", says="invisible")
    template = {"slug": "t", "name": name, "steps": [{"name": "Pack"}]}
    assert_json_error(app.post_json("/api/v1/templates/", template, headers=tenant.headers,
                                    status=400), 400, name="name", says="invisible")
    template = {"slug": "t", "name": "T", "steps": [{"name": "Pack"}, {"name": name}]}
    assert_json_error(app.post_json("/api/v1/templates/", template, headers=tenant.headers,
                                    status=400), 400, name="steps.1.name", says="invisible")
    tracker = create("Free-form", template=None)
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": "Packing", "action": "start"}, headers=tenant.headers)
    refused = app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                            {"process": name, "action": "start"}, headers=tenant.headers,
                            status=400)
    assert_json_error(refused, 400, name="process", says="invisible")
    steps = app.get(f"/api/v1/trackers/{tracker['id']}/", headers=tenant.headers).json["steps"]
    assert [s["name"] for s in steps] == ["Packing"]  # no look-alike second step


def test_the_api_stores_names_composed(app, tenant, create):
    tracker = create(f"{DECOMPOSED} order", template=None)
    assert tracker["name"] == f"{COMPOSED} order"
    template = {"slug": "cafe", "name": DECOMPOSED, "steps": [{"name": DECOMPOSED}]}
    made = app.post_json("/api/v1/templates/", template, headers=tenant.headers, status=201).json
    assert made["name"] == COMPOSED and made["steps"][0]["name"] == COMPOSED
    # A search typed in the other spelling finds it.
    found = app.get("/api/v1/trackers/", params={"q": DECOMPOSED}, headers=tenant.headers).json
    assert [t["id"] for t in found] == [tracker["id"]]


def test_steps_that_look_alike_are_one_step(app, tenant):
    template = {"slug": "cafe", "name": "Café", "steps": [{"name": COMPOSED},
                                                          {"name": DECOMPOSED}]}
    refused = app.post_json("/api/v1/templates/", template, headers=tenant.headers, status=400)
    assert_json_error(refused, 400, name="steps", says="distinct")
    template["steps"] = [{"name": COMPOSED}, {"name": "Serve"}]
    app.post_json("/api/v1/templates/", template, headers=tenant.headers, status=201)
    tracker = app.post_json("/api/v1/trackers/", {"name": "x", "template": "cafe"},
                            headers=tenant.headers, status=201).json
    # A status update spelled the other way acts on the same step.
    body = app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                         {"process": DECOMPOSED, "action": "start"}, headers=tenant.headers).json
    assert body["current_process"] == COMPOSED
    assert [s["status"] for s in body["steps"]] == ["in_progress", "pending"]


def test_free_form_steps_spelled_two_ways_are_one_step(app, tenant, create):
    tracker = create("Free-form", template=None)
    url = f"/api/v1/trackers/{tracker['id']}/status/"
    app.post_json(url, {"process": COMPOSED, "action": "start"}, headers=tenant.headers)
    body = app.post_json(url, {"process": DECOMPOSED, "action": "complete"},
                         headers=tenant.headers).json
    assert [(s["name"], s["status"]) for s in body["steps"]] == [(COMPOSED, "completed")]


# -- in the domain (the command line, and any caller that skips the API's schemas) -------

def test_the_domain_holds_the_same_rules(tenant, tenant_session):
    session = tenant_session(tenant.id)
    with pytest.raises(WorkflowError, match="invisible") as refused:
        create_tracker(session, tenant.id, "Order\u200b #1", TEST_ACTOR)
    assert refused.value.field == "name"
    tracker = create_tracker(session, tenant.id, DECOMPOSED, TEST_ACTOR)
    assert tracker.name == COMPOSED
    apply_action(session, tracker, "Pack", "start", TEST_ACTOR)
    with pytest.raises(WorkflowError, match="invisible") as refused:
        apply_action(session, tracker, "Pa\u200dck", "start", TEST_ACTOR)
    assert refused.value.field == "process"
    with pytest.raises(InvalidTemplate, match="invisible") as refused:
        create_template(session, "t", "T", [StepSpec("Pack"), StepSpec("Ship\u202e")])
    assert refused.value.field == "steps.1.name"
    with pytest.raises(InvalidTemplate, match="distinct"):
        create_template(session, "t", "T", [StepSpec(COMPOSED), StepSpec(DECOMPOSED)])
    spec = create_template(session, "t", DECOMPOSED, [StepSpec(DECOMPOSED)])
    assert spec.name == COMPOSED and spec.steps[0].name == COMPOSED
    with pytest.raises(TenantError, match="invisible"):
        create_tenant(session, "evil", "Acme\u202eCorp", platform_hosts=set())
    made = create_tenant(session, "cafe", DECOMPOSED, platform_hosts=set())
    assert made.name == COMPOSED and unicodedata.is_normalized("NFC", made.name)
