"""The official Python client's webhook calls, against the app over real HTTP.

The endpoint's URL is a public address literal: saved and queued for, never
sent to (no worker runs here).
"""

import pytest
from live_server import serve
from tracee_client import NotFoundError, TraceeClient, ValidationError

TARGET = "https://93.184.216.34/hooks/tracee"


@pytest.fixture(scope="module")
def server(database):
    with serve(database) as running:
        yield running


@pytest.fixture
def client(server, tenant, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with TraceeClient(api_key=tenant.key, base_url=server[0], backoff_base=0.01) as tracee:
        yield tracee
    server[1].registry["ratelimiter"].reset()


def test_an_endpoints_whole_life(client):
    created = client.create_webhook(TARGET, events=["tracker.completed"], description="ERP")
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"]) == (TARGET, ["tracker.completed"])
    hook_id = created["id"]
    assert client.list_webhooks() == [client.get_webhook(hook_id)]
    assert "secret" not in client.get_webhook(hook_id)

    changed = client.update_webhook(hook_id, enabled=False, description="paused")
    assert changed["enabled"] is False and changed["description"] == "paused"
    assert changed["events"] == ["tracker.completed"]  # what was not given stays

    rotated = client.rotate_webhook_secret(hook_id)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]

    queued = client.test_webhook(hook_id)
    assert queued["event_type"] == "webhook.test"
    assert client.retry_delivery(hook_id, queued["delivery_id"]) == {
        "delivery_id": queued["delivery_id"], "status": "queued"}
    assert list(client.webhook_deliveries(hook_id, per_page=5)) == []  # nothing sent yet

    client.delete_webhook(hook_id)
    with pytest.raises(NotFoundError):
        client.get_webhook(hook_id)


def test_a_retried_create_returns_the_same_endpoint_and_secret(client):
    first = client.create_webhook(TARGET, idempotency_key="create-hook-1")
    again = client.create_webhook(TARGET, idempotency_key="create-hook-1")
    assert again == first
    assert len(client.list_webhooks()) == 1


def test_a_refused_url_raises_naming_the_field(client):
    with pytest.raises(ValidationError) as refused:
        client.create_webhook("https://127.0.0.1/hook")
    assert refused.value.status_code == 400
    assert [e["name"] for e in refused.value.errors] == ["url"]
