"""The seed documentation (the public docs integrators code against), as tests.

Every request the docs show is run as written: the curl commands with the
real ``curl`` against a live server, the Python ``TraceeClient`` copied
verbatim, the JavaScript e-commerce flow under Node, the templates and the
QR ``<img>`` example. Only the base URL, the key and the ids are substituted.
"""

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest
import requests
from live_server import serve
from PIL import Image

DOCS_BASE = "https://tracee.app"
DOCS_KEYS = ("YOUR_API_KEY", "tk_live_abc123...", "YOUR_KEY", "tk_live_...")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")  # as the docs show times
SIX_STEPS = [
    "Preparing/Slicing", "3D Printing", "Post-Processing",
    "Quality Check", "Packaging", "Ready for Shipping",
]

# --- the docs' text, verbatim (the docs print line continuations flattened) ----------

QUICK_START_CREATE = r"""curl -X POST https://tracee.app/api/v1/trackers/ \ -H "X-API-Key: YOUR_API_KEY" \ -H "Content-Type: application/json" \ -d '{"name": "Order #1234", "template": "3d-printing"}'"""  # noqa: E501
QUICK_START_UPDATE = r"""curl -X POST https://tracee.app/api/v1/trackers/123/status/ \ -H "X-API-Key: YOUR_API_KEY" \ -H "Content-Type: application/json" \ -d '{"process": "3D Printing", "action": "complete"}'"""  # noqa: E501
CREATE_EXAMPLE = r"""curl -X POST https://tracee.app/api/v1/trackers/ \ -H "X-API-Key: tk_live_abc123..." \ -H "Content-Type: application/json" \ -d '{ "name": "Order #5678 - Custom Chess Set", "template": "3d-printing" }'"""  # noqa: E501
CREATE_RESPONSE = r"""{ "id": 42, "number": 5678, "name": "Order #5678 - Custom Chess Set", "tracking_url": "https://tracee.app/track/a1b2c3d4-e5f6-...", "api_url": "https://tracee.app/api/v1/trackers/42/", "embed_code": "<iframe src=\"https://tracee.app/embed/a1b2c3d4-e5f6-...\" ...>", "qr_code_url": "https://tracee.app/api/v1/trackers/42/qr/", "tracking_token": "a1b2c3d4-e5f6-..." }"""  # noqa: E501
START_PRINTING = r"""curl -X POST https://tracee.app/api/v1/trackers/42/status/ \ -H "X-API-Key: tk_live_abc123..." \ -H "Content-Type: application/json" \ -d '{"process": "3D Printing", "action": "start"}'"""  # noqa: E501
COMPLETE_PRINTING = r"""curl -X POST https://tracee.app/api/v1/trackers/42/status/ \ -H "X-API-Key: tk_live_abc123..." \ -H "Content-Type: application/json" \ -d '{"process": "3D Printing", "action": "complete"}'"""  # noqa: E501
GET_RESPONSE = r"""{ "id": 42, "name": "Order #5678 - Custom Chess Set", "tracking_url": "https://tracee.app/track/a1b2c3d4-...", "current_process": "3D Printing", "is_completed": false, "history": [ { "process": "Preparing/Slicing", "status": "completed", "started_at": "2026-01-31T10:00:00Z", "completed_at": "2026-01-31T10:30:00Z" }, { "process": "3D Printing", "status": "in_progress", "started_at": "2026-01-31T10:35:00Z", "completed_at": null } ] }"""  # noqa: E501
QR_IMG = r"""<img src="https://tracee.app/api/v1/trackers/42/qr/?api_key=YOUR_KEY" alt="Track Order">"""  # noqa: E501
TEMPLATE_3D_PRINTING = r"""{ "slug": "3d-printing", "name": "3D Printing Workflow", "steps": [ {"name": "Preparing/Slicing", "order": 1, "visible": true}, {"name": "3D Printing", "order": 2, "visible": true}, {"name": "Post-Processing", "order": 3, "visible": true}, {"name": "Quality Check", "order": 4, "visible": false}, {"name": "Packaging", "order": 5, "visible": true}, {"name": "Ready for Shipping", "order": 6, "visible": true} ] }"""  # noqa: E501

# The e-commerce integration, verbatim; the test supplies its `db` and `sendEmail`.
ECOMMERCE_JS = r"""
// When order is placed and payment confirmed
async function onOrderConfirmed(order) {
  // 1. Create tracker in Tracee
  const tracker = await fetch('https://tracee.app/api/v1/trackers/', {
    method: 'POST',
    headers: {
      'X-API-Key': process.env.TRACEE_API_KEY,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      name: `Order #${order.id} - ${order.productName}`,
      template: '3d-printing',
    }),
  }).then(r => r.json());

  // 2. Store tracking URL in your order
  await db.orders.update(order.id, {
    traceeTrackingUrl: tracker.tracking_url,
    traceeTrackerId: tracker.id,
  });

  // 3. Include tracking link in confirmation email
  await sendEmail({
    to: order.customerEmail,
    subject: 'Order Confirmed!',
    body: `Track your order: ${tracker.tracking_url}`,
  });
}

// When order status changes
async function onOrderStatusChange(order, newStatus) {
  if (!order.traceeTrackerId) return;

  // Map your status to Tracee process updates
  const statusMap = {
    'printing': { process: '3D Printing', action: 'start' },
    'shipped': { process: 'Ready for Shipping', action: 'complete' },
  };

  const update = statusMap[newStatus];
  if (update) {
    await fetch(`https://tracee.app/api/v1/trackers/${order.traceeTrackerId}/status/`, {
      method: 'POST',
      headers: {
        'X-API-Key': process.env.TRACEE_API_KEY,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify(update),
    });
  }
}
"""

# The statusMap of the e-commerce example, as Python.
STATUS_MAP = {
    "printing": {"process": "3D Printing", "action": "start"},
    "shipped": {"process": "Ready for Shipping", "action": "complete"},
}


# The docs' Python client, verbatim.
class TraceeClient:
    def __init__(self, api_key=None, base_url="https://tracee.app"):
        self.api_key = api_key or os.environ.get("TRACEE_API_KEY")
        self.base_url = base_url
        self.headers = {
            "X-API-Key": self.api_key,
            "Content-Type": "application/json"
        }

    def create_tracker(self, name, template=None):
        """Create a new tracker."""
        data = {"name": name}
        if template:
            data["template"] = template

        response = requests.post(
            f"{self.base_url}/api/v1/trackers/",
            json=data,
            headers=self.headers
        )
        response.raise_for_status()
        return response.json()

    def update_status(self, tracker_id, process, action):
        """Update tracker status. Action is 'start' or 'complete'."""
        response = requests.post(
            f"{self.base_url}/api/v1/trackers/{tracker_id}/status/",
            json={"process": process, "action": action},
            headers=self.headers
        )
        response.raise_for_status()
        return response.json()

    def get_tracker(self, tracker_id):
        """Get tracker details."""
        response = requests.get(
            f"{self.base_url}/api/v1/trackers/{tracker_id}/",
            headers=self.headers
        )
        response.raise_for_status()
        return response.json()


# --- a live server ---------------------------------------------------------------------


@dataclass
class Live:
    url: str  # no trailing slash, like tracee.public_url
    app: object

    def substitute(self, text: str, key: str, tracker_id: int | None = None) -> str:
        text = text.replace(DOCS_BASE, self.url)
        for placeholder in DOCS_KEYS:
            text = text.replace(placeholder, key)
        if tracker_id is not None:
            text = re.sub(r"/trackers/\d+/", f"/trackers/{tracker_id}/", text)
        return text


@pytest.fixture(scope="module")
def live_server(database):
    with serve(database) as (url, app):
        yield Live(url, app)


@pytest.fixture
def live(live_server, monkeypatch):
    # requests would send 127.0.0.1 through a configured proxy otherwise.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield live_server
    live_server.app.registry["ratelimiter"].reset()


@pytest.fixture(scope="session")
def curl_path():
    path = "/usr/bin/curl" if os.access("/usr/bin/curl", os.X_OK) else shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed (looked for /usr/bin/curl and on PATH)")
    return path


@dataclass
class CurlResult:
    status: int
    headers: dict  # lower-case names
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def run_curl(curl_path: str, command: str) -> CurlResult:
    """Run a docs curl command as written (its flattened ``\\`` continuations joined)."""
    args = shlex.split(command.replace(" \\ ", " "))
    assert args[0] == "curl", command
    args = [curl_path, "--silent", "--show-error", "--include", "--noproxy", "*",
            "--max-time", "30", *args[1:]]
    done = subprocess.run(args, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    raw = done.stdout
    while True:
        head, _, raw = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        if status != 100:
            break
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return CurlResult(status, headers, raw)


def _assert_iso_utc(value):
    assert ISO_UTC.match(value), value
    assert datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset().total_seconds() == 0


def _assert_uuid4(value):
    parsed = uuid.UUID(value)
    assert parsed.version == 4 and str(parsed) == value


# --- curl --------------------------------------------------------------------------------


def test_quick_start_curl(live, tenant, curl_path):
    created = run_curl(curl_path, live.substitute(QUICK_START_CREATE, tenant.key))
    assert created.status == 201, created.body
    body = created.json
    assert body["name"] == "Order #1234"
    assert body["number"] == 1234
    assert body["template"] == "3d-printing"
    assert created.headers["location"] == body["api_url"]

    update = run_curl(curl_path, live.substitute(QUICK_START_UPDATE, tenant.key, body["id"]))
    assert update.status == 200, update.body
    assert update.headers["content-type"].startswith("application/json")
    updated = update.json
    assert updated["id"] == body["id"]
    assert updated["current_process"] == "3D Printing"
    assert [(h["process"], h["status"]) for h in updated["history"]] == [
        ("Preparing/Slicing", "completed"), ("3D Printing", "completed")]
    assert updated["is_completed"] is False

    # The response's tracking_url is what customers are sent: it must open.
    page = run_curl(curl_path, f"curl {body['tracking_url']}")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert b"Order #1234" in page.body


def test_create_example_curl_matches_documented_response(live, tenant, curl_path):
    documented = json.loads(CREATE_RESPONSE)
    result = run_curl(curl_path, live.substitute(CREATE_EXAMPLE, tenant.key))
    assert result.status == 201, result.body
    body = result.json
    assert set(documented) <= set(body)
    assert isinstance(body["id"], int) and body["id"] > 0
    assert body["number"] == documented["number"] == 5678
    assert body["name"] == documented["name"] == "Order #5678 - Custom Chess Set"
    token = body["tracking_token"]
    _assert_uuid4(token)
    assert body["tracking_url"] == f"{live.url}/track/{token}"
    assert body["api_url"] == f"{live.url}/api/v1/trackers/{body['id']}/"
    assert body["qr_code_url"] == f"{live.url}/api/v1/trackers/{body['id']}/qr/"
    assert body["embed_code"].startswith(f'<iframe src="{live.url}/embed/{token}/"')
    assert body["embed_code"].endswith("</iframe>")
    assert result.headers["location"] == body["api_url"]
    # Each documented value, once the docs' host, id and token prefix are ours:
    for field, example in documented.items():
        if field == "id":
            continue
        if not isinstance(example, str):
            assert body[field] == example, field
            continue
        ours = (example.replace(DOCS_BASE, live.url)
                .replace("a1b2c3d4-e5f6-", token[:14])
                .replace("/42/", f"/{body['id']}/"))
        if "..." in ours:
            assert body[field].startswith(ours.split("...")[0]), field
        else:
            assert body[field] == ours, field

    # The embed src and the api_url answer too.
    embed = run_curl(curl_path, f"curl {live.url}/embed/{token}/")
    assert embed.status == 200
    again = run_curl(curl_path, f'curl -H "X-API-Key: {tenant.key}" {body["api_url"]}')
    assert again.status == 200
    assert again.json["tracking_token"] == token


def test_status_examples_curl_then_get_matches_documented_shape(live, tenant, curl_path):
    created = run_curl(curl_path, live.substitute(CREATE_EXAMPLE, tenant.key)).json
    tracker_id = created["id"]

    start = run_curl(curl_path, live.substitute(START_PRINTING, tenant.key, tracker_id))
    assert start.status == 200, start.body
    documented = json.loads(GET_RESPONSE)
    got = run_curl(
        curl_path, f'curl -H "X-API-Key: {tenant.key}" {live.url}/api/v1/trackers/{tracker_id}/')
    assert got.status == 200
    body = got.json
    assert set(documented) <= set(body)
    assert body["id"] == tracker_id
    assert body["name"] == documented["name"]
    assert body["tracking_url"] == f"{live.url}/track/{created['tracking_token']}"
    assert body["current_process"] == documented["current_process"]
    assert body["is_completed"] is documented["is_completed"] is False
    assert len(body["history"]) == len(documented["history"])
    for entry, example in zip(body["history"], documented["history"], strict=True):
        assert set(entry) == set(example)
        assert (entry["process"], entry["status"]) == (example["process"], example["status"])
        _assert_iso_utc(entry["started_at"])
        if example["completed_at"] is None:
            assert entry["completed_at"] is None
        else:
            _assert_iso_utc(entry["completed_at"])

    complete = run_curl(curl_path, live.substitute(COMPLETE_PRINTING, tenant.key, tracker_id))
    assert complete.status == 200, complete.body
    assert complete.json["history"][-1]["process"] == "3D Printing"
    assert complete.json["history"][-1]["status"] == "completed"
    _assert_iso_utc(complete.json["history"][-1]["completed_at"])

    # Retrying the documented call is harmless.
    retry = run_curl(curl_path, live.substitute(COMPLETE_PRINTING, tenant.key, tracker_id))
    assert retry.status == 200
    assert retry.json["history"] == complete.json["history"]


def test_curl_without_key_or_with_another_tenants_key(live, tenant, other_tenant, curl_path):
    created = run_curl(curl_path, live.substitute(CREATE_EXAMPLE, tenant.key)).json
    no_key = CREATE_EXAMPLE.replace('\\ -H "X-API-Key: tk_live_abc123..." ', "")
    assert "X-API-Key" not in no_key
    refused = run_curl(curl_path, live.substitute(no_key, tenant.key))
    assert refused.status == 401
    assert refused.json["errors"][0]["name"] == "X-API-Key"

    foreign = run_curl(curl_path, live.substitute(START_PRINTING, other_tenant.key, created["id"]))
    assert foreign.status == 404
    assert foreign.headers["content-type"].startswith("application/json")


def test_curl_posts_without_trailing_slash_are_not_redirected(live, tenant, curl_path):
    command = live.substitute(CREATE_EXAMPLE, tenant.key).replace("/trackers/ ", "/trackers ")
    assert "/api/v1/trackers " in command
    created = run_curl(curl_path, command)
    assert created.status == 201, created.body
    update = live.substitute(START_PRINTING, tenant.key, created.json["id"])
    update = update.replace("/status/ ", "/status ")
    assert "/status " in update
    started = run_curl(curl_path, update)
    assert started.status == 200
    assert started.json["current_process"] == "3D Printing"


def test_qr_img_example_returns_png(live, tenant, other_tenant, curl_path):
    created = run_curl(curl_path, live.substitute(CREATE_EXAMPLE, tenant.key)).json
    src = re.search(r'src="([^"]+)"', QR_IMG).group(1)
    url = live.substitute(src, tenant.key, created["id"])
    assert url == f"{created['qr_code_url']}?api_key={tenant.key}"

    image = run_curl(curl_path, f"curl {shlex.quote(url)}")
    assert image.status == 200
    assert image.headers["content-type"] == "image/png"
    assert image.body.startswith(b"\x89PNG\r\n\x1a\n")
    assert "private" in image.headers["cache-control"]

    without_key = run_curl(curl_path, f"curl {shlex.quote(created['qr_code_url'])}")
    assert without_key.status == 401
    foreign_url = url.replace(tenant.key, other_tenant.key)
    assert run_curl(curl_path, f"curl {shlex.quote(foreign_url)}").status == 404


def test_qr_png_encodes_the_tracking_url(app, tenant, create):
    zxingcpp = pytest.importorskip("zxingcpp")
    created = create("Order #5678 - Custom Chess Set")
    response = app.get(f"/api/v1/trackers/{created['id']}/qr/?api_key={tenant.key}")
    assert response.content_type == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.body)),
                                     formats=zxingcpp.BarcodeFormat.QRCode)
    assert [d.text for d in decoded] == [created["tracking_url"]]


# --- the Python client -----------------------------------------------------------------


def test_python_client_usage(live, tenant, capsys):
    # Usage, as documented:
    tracee = TraceeClient(api_key=tenant.key, base_url=live.url)

    # Create tracker
    tracker = tracee.create_tracker(
        name="Order #1234 - Blue Vase",
        template="3d-printing"
    )
    print(f"Tracking URL: {tracker['tracking_url']}")

    # Update status
    started = tracee.update_status(tracker["id"], "3D Printing", "start")
    completed = tracee.update_status(tracker["id"], "3D Printing", "complete")

    assert capsys.readouterr().out == (
        f"Tracking URL: {live.url}/track/{tracker['tracking_token']}\n")
    assert tracker["number"] == 1234
    assert started["current_process"] == "3D Printing"
    assert started["history"][-1]["status"] == "in_progress"
    assert completed["history"][-1]["status"] == "completed"

    got = tracee.get_tracker(tracker["id"])
    assert got["id"] == tracker["id"]
    assert got["name"] == "Order #1234 - Blue Vase"
    assert got["number"] == 1234
    assert got["template"] == "3d-printing"
    assert got["tracking_url"] == tracker["tracking_url"]
    assert got["current_process"] == "3D Printing"
    assert got["is_completed"] is False
    _assert_iso_utc(got["created_at"])
    _assert_iso_utc(got["updated_at"])
    assert got["updated_at"] >= got["created_at"]

    assert [h["process"] for h in got["history"]] == ["Preparing/Slicing", "3D Printing"]
    for entry in got["history"]:
        assert set(entry) == {"process", "status", "started_at", "completed_at"}
        assert entry["status"] == "completed"
        _assert_iso_utc(entry["started_at"])
        _assert_iso_utc(entry["completed_at"])
        assert entry["completed_at"] >= entry["started_at"]

    assert [s["name"] for s in got["steps"]] == SIX_STEPS
    for order, step in enumerate(got["steps"], start=1):
        assert set(step) == {"name", "order", "visible", "status", "started_at", "completed_at"}
        assert step["order"] == order
        assert step["visible"] is (step["name"] != "Quality Check")
        if order <= 2:
            assert step["status"] == "completed"
            _assert_iso_utc(step["started_at"])
            _assert_iso_utc(step["completed_at"])
        else:
            assert step == {**step, "status": "pending", "started_at": None, "completed_at": None}


def test_python_client_reads_key_from_environment(live, tenant, monkeypatch):
    monkeypatch.setenv("TRACEE_API_KEY", tenant.key)
    tracee = TraceeClient(base_url=live.url)
    tracker = tracee.create_tracker("Order #77 - Lamp")
    assert tracker["template"] is None
    assert tracker["steps"] == []
    assert tracee.get_tracker(tracker["id"])["number"] == 77


def test_python_client_raises_on_refused_update(live, tenant):
    tracee = TraceeClient(api_key=tenant.key, base_url=live.url)
    tracker = tracee.create_tracker("Order #1234 - Blue Vase", "3d-printing")
    with pytest.raises(requests.HTTPError) as failure:
        tracee.update_status(tracker["id"], "Teleporting", "start")
    assert failure.value.response.status_code == 400
    error = failure.value.response.json()["errors"][0]
    assert error["name"] == "process"
    with pytest.raises(requests.HTTPError) as failure:
        tracee.update_status(tracker["id"], "3D Printing", "pause")
    assert failure.value.response.status_code == 400
    assert failure.value.response.json()["errors"][0]["name"] == "action"
    with pytest.raises(requests.HTTPError) as failure:
        TraceeClient(api_key="tk_live_wrong", base_url=live.url).get_tracker(tracker["id"])
    assert failure.value.response.status_code == 401


# --- the e-commerce integration ----------------------------------------------------------


def test_ecommerce_status_map_finishes_the_tracker(live, tenant):
    headers = {"X-API-Key": tenant.key, "Content-Type": "application/json"}
    order = {"id": 5678, "productName": "Custom Chess Set"}
    tracker = requests.post(
        f"{live.url}/api/v1/trackers/", headers=headers,
        json={"name": f"Order #{order['id']} - {order['productName']}",
              "template": "3d-printing"},
    ).json()
    assert tracker["number"] == 5678

    def on_order_status_change(new_status):
        update = STATUS_MAP.get(new_status)
        if update:
            return requests.post(
                f"{live.url}/api/v1/trackers/{tracker['id']}/status/", headers=headers,
                json=update)

    assert on_order_status_change("paid") is None
    printing = on_order_status_change("printing")
    assert printing.status_code == 200
    body = printing.json()
    assert body["current_process"] == "3D Printing"
    assert body["is_completed"] is False
    assert [(h["process"], h["status"]) for h in body["history"]] == [
        ("Preparing/Slicing", "completed"), ("3D Printing", "in_progress")]

    shipped = on_order_status_change("shipped")
    assert shipped.status_code == 200
    got = requests.get(f"{live.url}/api/v1/trackers/{tracker['id']}/", headers=headers).json()
    assert got == shipped.json()
    assert got["is_completed"] is True
    assert got["current_process"] == "Ready for Shipping"
    assert [s["status"] for s in got["steps"]] == ["completed"] * 6
    assert [h["process"] for h in got["history"]] == SIX_STEPS
    assert all(h["status"] == "completed" for h in got["history"])

    # A webhook retry of "shipped" changes nothing.
    again = on_order_status_change("shipped")
    assert again.status_code == 200
    assert again.json() == got


def test_ecommerce_javascript_runs_under_node(live, tenant, app, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the JavaScript example cannot run")
    script = tmp_path / "ecommerce.mjs"
    script.write_text(
        "const saved = {}; const emails = [];\n"
        "const db = { orders: { update: async (id, fields) => { saved[id] = fields; } } };\n"
        "const sendEmail = async (message) => { emails.push(message); };\n"
        + ECOMMERCE_JS.replace(DOCS_BASE, live.url)
        + """
const order = { id: 9001, productName: 'Walnut Box', customerEmail: 'c@example.com' };
await onOrderConfirmed(order);
Object.assign(order, saved[order.id]);
await onOrderStatusChange(order, 'printing');
await onOrderStatusChange(order, 'packed');
await onOrderStatusChange(order, 'shipped');
console.log(JSON.stringify({ order, emails }));
"""
    )
    env = {**os.environ, "TRACEE_API_KEY": tenant.key}
    done = subprocess.run([node, str(script)], capture_output=True, timeout=60, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    tracker_id = out["order"]["traceeTrackerId"]
    assert isinstance(tracker_id, int)
    assert out["emails"][0]["body"] == f"Track your order: {out['order']['traceeTrackingUrl']}"

    got = app.get(f"/api/v1/trackers/{tracker_id}/", headers=tenant.headers).json
    assert got["name"] == "Order #9001 - Walnut Box"
    assert got["number"] == 9001
    assert out["order"]["traceeTrackingUrl"] == (
        f"{live.url}/track/{got['tracking_token']}")
    assert got["is_completed"] is True
    assert [h["process"] for h in got["history"]] == SIX_STEPS


# --- templates ---------------------------------------------------------------------------


def test_templates_list_has_the_documented_3d_printing_template(app, tenant):
    listed = app.get("/api/v1/templates/", headers=tenant.headers).json
    by_slug = {t["slug"]: t for t in listed}
    documented = json.loads(TEMPLATE_3D_PRINTING)
    shown = by_slug["3d-printing"]
    assert {k: shown[k] for k in documented} == documented
    assert [s for s in shown["steps"] if not s["visible"]] == [
        {"name": "Quality Check", "order": 4, "visible": False}]
    assert {"manufacturing", "print-shop", "food-preparation", "repair-service"} <= set(by_slug)
    for slug in ("manufacturing", "print-shop", "food-preparation", "repair-service"):
        steps = by_slug[slug]["steps"]
        assert steps, slug
        assert [s["order"] for s in steps] == list(range(1, len(steps) + 1))
        assert by_slug[slug]["builtin"] is True
    # Each documented template creates trackers with its steps.
    for slug, template in by_slug.items():
        created = app.post_json("/api/v1/trackers/", {"name": f"Order {slug}", "template": slug},
                                headers=tenant.headers, status=201).json
        assert [(s["name"], s["order"], s["visible"]) for s in created["steps"]] == [
            (s["name"], s["order"], s["visible"]) for s in template["steps"]]


def test_templates_require_a_key(app):
    assert app.get("/api/v1/templates/", status=401).json["errors"][0]["name"] == "X-API-Key"


def test_tenant_template_is_private_to_its_tenant(app, tenant, other_tenant):
    body = {"slug": "pottery", "name": "Pottery",
            "steps": [{"name": "Throwing"}, {"name": "Kiln Check", "visible": False},
                      {"name": "Glazing"}]}
    created = app.post_json("/api/v1/templates/", body, headers=tenant.headers, status=201)
    assert created.headers["Location"] == "https://tracee.test/api/v1/templates/pottery/"
    assert created.json == {
        "slug": "pottery", "name": "Pottery", "builtin": False,
        "steps": [{"name": "Throwing", "order": 1, "visible": True},
                  {"name": "Kiln Check", "order": 2, "visible": False},
                  {"name": "Glazing", "order": 3, "visible": True}]}

    mine = app.get("/api/v1/templates/", headers=tenant.headers).json
    assert "pottery" in [t["slug"] for t in mine]
    assert app.get("/api/v1/templates/pottery/", headers=tenant.headers).json == created.json
    tracker = app.post_json("/api/v1/trackers/", {"name": "Vase", "template": "pottery"},
                            headers=tenant.headers, status=201).json
    assert [s["name"] for s in tracker["steps"]] == ["Throwing", "Kiln Check", "Glazing"]

    theirs = app.get("/api/v1/templates/", headers=other_tenant.headers).json
    assert "pottery" not in [t["slug"] for t in theirs]
    assert "3d-printing" in [t["slug"] for t in theirs]
    app.get("/api/v1/templates/pottery/", headers=other_tenant.headers, status=404)
    refused = app.post_json("/api/v1/trackers/", {"name": "Vase", "template": "pottery"},
                            headers=other_tenant.headers, status=400)
    assert refused.json["errors"][0]["name"] == "template"
    # The other tenant may have its own "pottery".
    app.post_json("/api/v1/templates/", {**body, "name": "Their Pottery"},
                  headers=other_tenant.headers, status=201)
    assert app.get("/api/v1/templates/pottery/", headers=tenant.headers).json["name"] == "Pottery"


def test_template_slug_conflicts(app, tenant):
    body = {"slug": "pottery", "name": "Pottery", "steps": [{"name": "Throwing"}]}
    app.post_json("/api/v1/templates/", body, headers=tenant.headers, status=201)
    dup = app.post_json("/api/v1/templates/", body, headers=tenant.headers, status=409)
    assert dup.json["errors"][0]["name"] == "slug"
    builtin = app.post_json("/api/v1/templates/", {**body, "slug": "3d-printing"},
                            headers=tenant.headers, status=409)
    assert builtin.json["errors"][0]["name"] == "slug"
    shown = app.get("/api/v1/templates/3d-printing/", headers=tenant.headers).json
    assert {k: shown[k] for k in ("slug", "name", "steps")} == json.loads(TEMPLATE_3D_PRINTING)


# --- paths with and without the trailing slash -------------------------------------------


@pytest.mark.parametrize("slash", ["/", ""])
def test_every_api_path_answers_with_and_without_trailing_slash(app, tenant, slash):
    h = tenant.headers
    created = app.post_json(f"/api/v1/trackers{slash}", {"name": "Order #5678",
                                                          "template": "3d-printing"},
                            headers=h, status=201)
    assert created.json["number"] == 5678
    assert created.headers["Location"] == created.json["api_url"]
    tid = created.json["id"]

    listed = app.get(f"/api/v1/trackers{slash}", headers=h, status=200)
    assert [t["id"] for t in listed.json] == [tid]
    assert app.get(f"/api/v1/trackers/{tid}{slash}", headers=h, status=200).json["id"] == tid
    started = app.post_json(f"/api/v1/trackers/{tid}/status{slash}",
                            {"process": "3D Printing", "action": "start"},
                            headers=h, status=200)
    assert started.json["current_process"] == "3D Printing"
    qr = app.get(f"/api/v1/trackers/{tid}/qr{slash}", headers=h, status=200)
    assert qr.content_type == "image/png"
    qr_query = app.get(f"/api/v1/trackers/{tid}/qr{slash}?api_key={tenant.key}", status=200)
    assert qr_query.body == qr.body

    slugs = [t["slug"] for t in app.get(f"/api/v1/templates{slash}", headers=h, status=200).json]
    assert "3d-printing" in slugs
    made = app.post_json(f"/api/v1/templates{slash}",
                         {"slug": "bakery", "name": "Bakery", "steps": [{"name": "Baking"}]},
                         headers=h, status=201)
    assert made.json["slug"] == "bakery"
    got = app.get(f"/api/v1/templates/bakery{slash}", headers=h, status=200)
    assert got.json["name"] == "Bakery"


def test_qr_query_key_is_only_accepted_for_the_image(app, tenant, create):
    created = create()
    # The ?api_key= form is for <img>; JSON endpoints still need the header.
    app.get(f"/api/v1/trackers/{created['id']}/?api_key={tenant.key}", status=401)
    app.get(f"/api/v1/trackers/?api_key={tenant.key}", status=401)


def test_embed_code_and_tracking_url_open_live_pages(live, tenant, other_tenant, curl_path):
    client = TraceeClient(api_key=tenant.key, base_url=live.url)
    tracker = client.create_tracker("Order #5678 - Custom Chess Set", "3d-printing")
    src = re.search(r'src="([^"]+)"', tracker["embed_code"]).group(1)
    assert src == f"{live.url}/embed/{tracker['tracking_token']}/"
    embed = run_curl(curl_path, f"curl {shlex.quote(src)}")
    assert embed.status == 200
    assert embed.headers["referrer-policy"] == "no-referrer"
    assert b"Custom Chess Set" in embed.body
    page = requests.get(tracker["tracking_url"], timeout=30)
    assert page.status_code == 200
    assert "Custom Chess Set" in page.text
    # Another tenant's key finds nothing at the same api_url.
    foreign = TraceeClient(api_key=other_tenant.key, base_url=live.url)
    with pytest.raises(requests.HTTPError) as failure:
        foreign.get_tracker(tracker["id"])
    assert failure.value.response.status_code == 404
