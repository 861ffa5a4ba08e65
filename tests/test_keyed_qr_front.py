"""Keyed QR repeats answered in front of the framework (tracee.api.qr_front): the same
answer as the whole stack's, counted once, and never for a key or tracker not remembered."""

import pytest
from test_ratelimit import limit_headers, redis_url  # noqa: F401
from test_revocation_epoch import statements, workers  # noqa: F401

from tracee.api.qr_front import KeyedQrFront


def front_of(worker) -> KeyedQrFront:
    return worker.app.keyed_qr


@pytest.fixture
def stack_calls(workers, monkeypatch):  # noqa: F811
    """How many requests reach the framework behind the first worker's front."""
    fronts = workers[0].app
    calls, inner = [], fronts.app

    def counting(environ, start):
        calls.append(1)
        return inner(environ, start)

    for layer in (fronts, front_of(workers[0])):  # through the QR front, or straight there
        monkeypatch.setattr(layer, "app", counting)
    return calls


def test_a_repeat_is_the_stacks_answer_without_the_stack(workers, stack_calls, tenant,  # noqa: F811
                                                          create):
    worker = workers[0]
    qr = f"/api/v1/trackers/{create()['id']}/qr/"
    full = [worker.get(qr, headers=tenant.headers, status=200) for _ in range(2)]
    assert len(stack_calls) == 2  # learns the epoch, then keeps key and token under it
    seen = statements(worker)
    repeat = worker.get(qr, headers=tenant.headers, status=200)
    assert len(stack_calls) == 2 and seen == []
    assert repeat.body == full[1].body
    assert sorted(repeat.headers.keys()) == sorted(full[1].headers.keys())
    for name, value in full[1].headers.items():
        if name != "X-RateLimit-Remaining":
            assert repeat.headers[name] == value, name
    assert limit_headers(repeat)[1] == limit_headers(full[1])[1] - 1  # counted once
    sized = worker.get(qr + "?size=120", headers=tenant.headers, status=200)
    assert len(stack_calls) == 2 and sized.body != repeat.body


def test_repeats_are_counted_once_and_refused_by_the_stack(workers, stack_calls, make_tenant,  # noqa: F811
                                                           create):
    limited = make_tenant("limited", rate_limit="4/minute")
    tracker = workers[0].post_json("/api/v1/trackers/", {"name": "Order #1"},
                                   headers=limited.headers, status=201).json
    qr = f"/api/v1/trackers/{tracker['id']}/qr/"
    answers, reached = [], []
    for _ in range(4):
        answers.append(workers[0].get(qr, headers=limited.headers, expect_errors=True))
        reached.append(len(stack_calls))
    statuses = [a.status_int for a in answers]
    assert statuses == [200, 200, 200, 429]
    assert [limit_headers(a)[1] for a in answers] == [2, 1, 0, 0]
    # The create taught the key, the first the token; the next two come from
    # the front; the refusal is the stack's, counted once.
    assert reached == [2, 2, 2, 3]
    assert answers[-1].json["errors"][0]["name"] == "X-API-Key"


@pytest.mark.parametrize("extra", [
    {"headers": {"If-None-Match": '"x"'}},
    {"headers": {"Tracee-Tenant": "acme"}},
    {"query": "?size=63"},
    {"query": "?size=0300"},
    {"query": "?api_key=ignored"},
    {"path": "/api/v1/trackers/{id}/qr"},
])
def test_anything_unusual_goes_through_the_stack(workers, stack_calls, tenant, create,  # noqa: F811
                                                 extra):
    worker = workers[0]
    qr = f"/api/v1/trackers/{create()['id']}/qr/"
    for _ in range(3):
        worker.get(qr, headers=tenant.headers, status=200)
    before = len(stack_calls)
    path = extra.get("path", qr).replace("{id}", qr.split("/")[4])
    worker.get(path + extra.get("query", ""),
               headers={**tenant.headers, **extra.get("headers", {})}, expect_errors=True)
    assert len(stack_calls) == before + 1


def test_another_tenants_key_never_gets_a_remembered_token(workers, stack_calls, tenant,  # noqa: F811
                                                           other_tenant, create):
    worker = workers[0]
    qr = f"/api/v1/trackers/{create()['id']}/qr/"
    for _ in range(3):
        worker.get(qr, headers=tenant.headers, status=200)
    for _ in range(2):
        worker.get(qr, headers=other_tenant.headers, status=404)
