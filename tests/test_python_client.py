"""The official Python client (clients/python), against the app over real HTTP.

The API's own answers drive every error class here; the retry tests use a
small scripted HTTP server instead, since the app cannot be made to fail on
cue, and a closed port for failed connections.
"""

import io
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import tracee_client
import zxingcpp
from live_server import serve
from PIL import Image
from tracee_client import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TraceeClient,
    TraceeError,
    ValidationError,
)
from tracee_client.retry import parse_retry_after

FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server(database):
    with serve(database) as running:
        yield running


@pytest.fixture
def url(server, monkeypatch):
    # requests would send 127.0.0.1 through a configured proxy otherwise.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield server[0]
    server[1].registry["ratelimiter"].reset()


@pytest.fixture
def client(url, tenant):
    with TraceeClient(api_key=tenant.key, base_url=url, **FAST) as tracee:
        yield tracee


# --- the documented example, one import changed ----------------------------------------


def test_the_documented_example_runs_on_the_official_client(url, tenant, capsys):
    from tracee_client import TraceeClient

    # Usage, as documented (only the key and the base URL substituted):
    tracee = TraceeClient(api_key=tenant.key, base_url=url)

    # Create tracker
    tracker = tracee.create_tracker(
        name="Order #1234 - Blue Vase",
        template="3d-printing"
    )
    print(f"Tracking URL: {tracker['tracking_url']}")

    # Update status
    started = tracee.update_status(tracker["id"], "3D Printing", "start")
    completed = tracee.update_status(tracker["id"], "3D Printing", "complete")

    assert capsys.readouterr().out == f"Tracking URL: {url}/track/{tracker['tracking_token']}\n"
    assert tracker["number"] == 1234
    assert started["history"][-1] == {**started["history"][-1], "status": "in_progress"}
    assert completed["current_process"] == "3D Printing"
    # The same plain JSON a bare requests call gets.
    raw = requests.get(f"{url}/api/v1/trackers/{tracker['id']}/",
                       headers={"X-API-Key": tenant.key}, timeout=10).json()
    got = tracee.get_tracker(tracker["id"])
    assert got == raw
    assert [(h["process"], h["status"]) for h in got["history"]] == [
        ("Preparing/Slicing", "completed"), ("3D Printing", "completed")]
    tracee.close()


def test_the_key_comes_from_the_environment(url, tenant, monkeypatch):
    monkeypatch.setenv("TRACEE_API_KEY", tenant.key)
    with TraceeClient(base_url=url) as tracee:
        assert tracee.create_tracker("Order #77 - Lamp")["template"] is None
        assert tenant.key not in repr(tracee)
    monkeypatch.delenv("TRACEE_API_KEY")
    with pytest.raises(TraceeError, match="TRACEE_API_KEY"):
        TraceeClient(base_url=url)


# --- the rest of the API ----------------------------------------------------------------


def test_list_trackers_iterates_over_every_page_with_its_filters(client):
    made = [client.create_tracker(f"Order #{n} - Vase {n}", "3d-printing")
            for n in range(101, 108)]
    for done in made[1:3]:
        client.update_status(done["id"], "Ready for Shipping", "complete")
    client.create_tracker("Order #200 - Lamp")

    everything = client.list_trackers(per_page=3)  # 8 trackers: three pages
    assert [t["number"] for t in everything] == [200, 107, 106, 105, 104, 103, 102, 101]

    finished = list(client.list_trackers(completed=True, per_page=1))
    assert [t["number"] for t in finished] == [103, 102]
    assert all(t["is_completed"] for t in finished)
    open_vases = list(client.list_trackers(completed=False, q="vase", per_page=2))
    assert [t["number"] for t in open_vases] == [107, 106, 105, 104, 101]
    [lamp] = client.list_trackers(q="#200")
    detail = client.get_tracker(lamp["id"])
    assert lamp == {k: v for k, v in detail.items() if k not in ("history", "steps")}


def test_templates_listed_read_and_created(client):
    slugs = [t["slug"] for t in client.templates()]
    assert "3d-printing" in slugs
    printing = client.template("3d-printing")
    assert printing["builtin"] is True
    assert [(s["name"], s["visible"]) for s in printing["steps"]][3] == ("Quality Check", False)

    created = client.create_template(
        "repairs", "Repair Service",
        ["Diagnosis", {"name": "Internal QA", "visible": False},
         {"name": "Return", "expected_minutes": 30}],
    )
    assert created == {"slug": "repairs", "name": "Repair Service", "builtin": False, "steps": [
        {"name": "Diagnosis", "order": 1, "visible": True},
        {"name": "Internal QA", "order": 2, "visible": False},
        {"name": "Return", "order": 3, "visible": True, "expected_minutes": 30},
    ]}
    assert client.template("repairs") == created
    tracker = client.create_tracker("Order #9 - Radio", "repairs")
    assert [s["name"] for s in tracker["steps"]] == ["Diagnosis", "Internal QA", "Return"]


def test_a_ready_date_is_promised_and_late_trackers_listed(client):
    tracker = client.create_tracker("Order #10 - Lamp", estimated_ready_at="2001-02-03T04:05:06Z")
    assert (tracker["estimated_ready_at"], tracker["is_late"]) == (None, True)
    assert [t["id"] for t in client.list_trackers(late=True)] == [tracker["id"]]
    promised = client.set_ready_date(tracker["id"], "2099-02-03T04:05:06+00:00")
    assert (promised["estimated_ready_at"], promised["estimate_source"]) == (
        "2099-02-03T04:05:06Z", "set")
    assert list(client.list_trackers(late=True)) == []
    assert client.set_ready_date(tracker["id"], None)["estimate_source"] is None


def test_qr_code_is_a_png_of_the_tracking_url(client):
    tracker = client.create_tracker("Order #1234 - Blue Vase", "3d-printing")
    png = client.qr_code(tracker["id"], size=200)
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [d.text for d in found] == [tracker["tracking_url"]]
    default = Image.open(io.BytesIO(client.qr_code(tracker["id"])))  # 300 px or a little more
    assert image.width == image.height
    assert 200 <= image.width < 300 <= default.width


def test_the_types_name_every_key_the_api_sends(client):
    tracker = client.update_status(
        client.create_tracker("Order #3 - Cup", "3d-printing")["id"], "3D Printing", "start")
    assert set(tracker) == tracee_client.Tracker.__required_keys__
    assert set(tracker["steps"][0]) == tracee_client.Step.__required_keys__
    assert set(tracker["history"][0]) == tracee_client.HistoryEntry.__required_keys__
    [summary] = client.list_trackers()
    assert set(summary) == tracee_client.TrackerSummary.__required_keys__
    template = client.template("3d-printing")
    assert set(template) == tracee_client.Template.__required_keys__
    assert set(template["steps"][0]) == tracee_client.TemplateStep.__required_keys__
    assert tracee_client.TemplateStep.__optional_keys__ == {"expected_minutes"}
    assert tracee_client.Step.__optional_keys__ == {"expected_minutes"}
    with pytest.raises(NotFoundError) as failure:
        client.get_tracker(999)
    assert set(failure.value.errors[0]) == tracee_client.ErrorDetail.__required_keys__


# --- each error class from a real answer ------------------------------------------------


def test_a_bad_key_raises_authentication_error(url):
    with TraceeClient(api_key="tk_live_wrong", base_url=url, **FAST) as tracee, \
            pytest.raises(AuthenticationError) as failure:
        tracee.get_tracker(1)
    error = failure.value
    assert error.status_code == 401
    assert error.errors[0]["name"] == "X-API-Key"
    assert str(error).startswith("401 Unauthorized: X-API-Key: ")
    # Code written for the documented requests example still catches it.
    assert isinstance(error, requests.HTTPError)
    assert error.response.status_code == 401


def test_unknown_tracker_and_template_raise_not_found(client):
    with pytest.raises(NotFoundError) as failure:
        client.get_tracker(999_999)
    assert failure.value.status_code == 404
    assert failure.value.errors == [
        {"location": "path", "name": "id", "description": "no tracker with id 999999"}]
    assert str(failure.value) == "404 Not Found: id: no tracker with id 999999"
    with pytest.raises(NotFoundError):
        client.template("no-such-template")
    with pytest.raises(NotFoundError):
        client.qr_code(999_999)
    with pytest.raises(NotFoundError):
        client.template("../trackers")  # quoted: stays one path segment


def test_invalid_bodies_raise_validation_error_naming_the_field(client):
    with pytest.raises(ValidationError) as failure:
        client.create_tracker("   ")
    assert failure.value.status_code == 400
    assert [e["name"] for e in failure.value.errors] == ["name"]
    tracker = client.create_tracker("Order #5 - Vase", "3d-printing")
    with pytest.raises(ValidationError) as failure:
        client.update_status(tracker["id"], "3D Printing", "pause")
    assert [e["name"] for e in failure.value.errors] == ["action"]
    assert "action: must be one of: start, complete" in str(failure.value)
    with pytest.raises(ValidationError) as failure:
        client.update_status(tracker["id"], "Teleporting", "start")
    assert failure.value.errors[0]["name"] == "process"
    with pytest.raises(ValidationError) as failure:
        list(client.list_trackers(per_page=500))
    assert failure.value.errors[0] == {**failure.value.errors[0], "location": "querystring",
                                       "name": "per_page"}


def test_clashes_raise_conflict_error(client):
    client.create_template("repairs", "Repairs", ["Diagnosis"])
    with pytest.raises(ConflictError) as failure:
        client.create_template("repairs", "Repairs again", ["Diagnosis"])
    assert failure.value.status_code == 409
    assert failure.value.errors[0]["name"] == "slug"
    client.create_tracker("First", number=7)
    with pytest.raises(ConflictError):
        client.create_tracker("Second", number=7)


def test_a_spent_rate_limit_raises_rate_limit_error(url, make_tenant):
    slow = make_tenant("slow", rate_limit="2/minute")
    with TraceeClient(api_key=slow.key, base_url=url, max_retry_after=5, **FAST) as tracee:
        tracee.templates()
        tracee.templates()
        started = time.monotonic()
        with pytest.raises(RateLimitError) as failure:
            tracee.templates()
    # Retry-After (up to a minute) is past max_retry_after: raised at once, not slept on.
    assert time.monotonic() - started < 2
    error = failure.value
    assert error.status_code == 429
    assert 5 < error.retry_after <= 60
    assert error.errors[0]["name"] == "X-API-Key"
    assert "rate limit of 2 requests exceeded" in str(error)


# --- retries, backoff and idempotency keys, on a scripted server ------------------------


class Scripted:
    """A local HTTP server answering from a script; it records what it was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.received = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                scripted.received.append(
                    (self.command, self.path, dict(self.headers), self.rfile.read(length)))
                status, headers, body, delay = scripted.answers.pop(0)
                time.sleep(delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for name, value in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def keys(self):
        return [headers.get("Idempotency-Key") for _, _, headers, _ in self.received]


def answer(status, body=None, headers=None, delay=0.0):
    return status, headers or {}, body if body is not None else {}, delay


def error_body(description, name=None):
    return {"status": "error", "errors": [
        {"location": "body", "name": name, "description": description}]}


TRACKER = {"id": 1, "name": "Order #1", "tracking_url": "http://t/track/x"}


@pytest.fixture
def no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_5xx_is_retried_with_one_idempotency_key_per_post(no_proxy):
    with Scripted(answer(503, error_body("down")), answer(502, b"<html>bad gateway</html>"),
                  answer(201, TRACKER), answer(201, TRACKER)) as server, \
            TraceeClient("tk_test", server.url, **FAST) as tracee:
        assert tracee.create_tracker("Order #1", "3d-printing") == TRACKER
        tracee.create_tracker("Order #2")
    first, second = server.keys()[:3], server.keys()[3]
    assert len(set(first)) == 1
    assert uuid.UUID(first[0]).version == 4
    assert second != first[0]
    assert [(m, p) for m, p, _, _ in server.received] == [("POST", "/api/v1/trackers/")] * 4
    assert json.loads(server.received[0][3]) == {"name": "Order #1", "template": "3d-printing"}


def test_429_waits_as_retry_after_says(no_proxy):
    with Scripted(answer(429, error_body("slow down"), {"Retry-After": "1"}),
                  answer(200, TRACKER)) as server, \
            TraceeClient("tk_test", server.url, **FAST) as tracee:
        started = time.monotonic()
        assert tracee.get_tracker(1) == TRACKER
        waited = time.monotonic() - started
    assert 1 <= waited < 2
    assert server.keys() == [None, None]  # GETs carry no idempotency key


def test_errors_are_raised_after_max_retries(no_proxy):
    with Scripted(*[answer(500, error_body("boom", "db"))] * 3) as server, \
            TraceeClient("tk_test", server.url, max_retries=2, **FAST) as tracee, \
            pytest.raises(ServerError) as failure:
        tracee.update_status(4, "Printing", "start", idempotency_key="order-4-printing")
    assert len(server.received) == 3
    assert server.keys() == ["order-4-printing"] * 3
    error = failure.value
    assert (error.status_code, error.errors[0]["name"]) == (500, "db")
    assert error.idempotency_key == "order-4-printing"
    assert str(error) == "500 Internal Server Error: db: boom"


def test_refusals_and_long_retry_after_are_not_retried(no_proxy):
    with Scripted(answer(400, error_body("Required", "name")),
                  answer(429, error_body("slow"), {"Retry-After": "120"}),
                  answer(301, b"", {"Location": "https://elsewhere.test/"})) as server, \
            TraceeClient("tk_test", server.url, max_retry_after=30, **FAST) as tracee:
        with pytest.raises(ValidationError):
            tracee.create_tracker("")
        with pytest.raises(RateLimitError) as limited:
            tracee.templates()
        with pytest.raises(APIError, match="unexpected redirect to 'https://elsewhere.test/'"):
            tracee.templates()
    assert limited.value.retry_after == 120
    assert len(server.received) == 3


def test_failed_connections_are_retried_then_raised(no_proxy):
    with Scripted() as closed:
        url = closed.url  # nothing listens there once the block ends
    with TraceeClient("tk_test", url, max_retries=2, **FAST) as tracee, \
            pytest.raises(APIConnectionError) as failure:
        tracee.create_tracker("Order #1")
    assert isinstance(failure.value, requests.ConnectionError)
    assert failure.value.status_code is None
    assert uuid.UUID(failure.value.idempotency_key).version == 4

    with Scripted(answer(200, TRACKER, delay=0.5), answer(200, TRACKER)) as slow, \
            TraceeClient("tk_test", slow.url, timeout=0.2, **FAST) as tracee:
        assert tracee.get_tracker(1) == TRACKER  # the first attempt timed out
    with Scripted(answer(200, TRACKER, delay=0.5)) as slow, \
            TraceeClient("tk_test", slow.url, timeout=0.2, max_retries=0) as tracee, \
            pytest.raises(APITimeoutError):
        tracee.get_tracker(1)


def test_pages_are_asked_of_base_url_with_the_filters_whatever_the_link_says(no_proxy):
    elsewhere = '<https://elsewhere.test/api/v1/trackers/?page={}&per_page=1>; rel="next"'
    with Scripted(answer(200, [TRACKER], {"Link": elsewhere.format(2)}),
                  answer(200, [TRACKER], {"Link": elsewhere.format(3)}),
                  answer(200, [TRACKER]),
                  answer(200, [TRACKER], {"Link": elsewhere.format(1)})) as server, \
            TraceeClient("tk_test", server.url, **FAST) as tracee:
        assert len(list(tracee.list_trackers(completed=True, q="a b"))) == 3
        with pytest.raises(TraceeError, match="does not advance"):
            list(tracee.list_trackers())
    assert [path for _, path, _, _ in server.received] == [
        "/api/v1/trackers/?completed=true&q=a+b",
        "/api/v1/trackers/?page=2&per_page=1&completed=true&q=a+b",
        "/api/v1/trackers/?page=3&per_page=1&completed=true&q=a+b",
        "/api/v1/trackers/",
    ]


def test_retry_after_is_read_as_seconds_or_a_date():
    now = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_grows_exponentially_with_jitter_up_to_a_ceiling():
    policy = RetryPolicy(max_retries=6, backoff_base=0.5, backoff_max=4)
    down = ServerError("503", status_code=503)
    for retries_done, ceiling in enumerate([0.5, 1, 2, 4, 4, 4]):
        waits = {policy.wait_before_retry(retries_done, down, None) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered
    assert policy.wait_before_retry(6, down, None) is None
    assert policy.wait_before_retry(0, NotFoundError("404", status_code=404), None) is None


def test_the_client_distribution_needs_neither_pyramid_nor_sqlalchemy():
    from importlib.metadata import requires, version

    assert [r.split(">")[0] for r in requires("tracee-client")] == ["requests"]
    assert tracee_client.__version__ == version("tracee-client")
