"""The SSRF guard: refused when an endpoint is saved, and again at connect time."""

import socket
import threading
import time
from configparser import ConfigParser
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from conftest import make_app
from test_webhooks_delivery import FAST, all_finished, until
from webhook_receiver import receiver
from webtest import TestApp

from tracee.webhooks.config import WebhookSettings
from tracee.webhooks.ssrf import TargetRefused, delivery_session, refusal

ROOT = Path(__file__).resolve().parent.parent
REFUSED = {
    "loopback": ["127.0.0.1", "127.8.9.10", "[::1]"],
    "private": ["10.0.0.1", "172.16.5.4", "192.168.1.1", "[fc00::1]", "[fd12:3456::1]"],
    "link-local (cloud metadata)": ["169.254.169.254", "[fe80::1]"],
    "CGNAT": ["100.64.0.1", "100.127.255.254"],
    "multicast": ["224.0.0.1", "239.255.255.250", "[ff02::1]"],
    "unspecified": ["0.0.0.0", "[::]"],
    "reserved": ["240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1"],
    "IPv4-mapped": ["[::ffff:127.0.0.1]", "[::ffff:169.254.169.254]", "[::ffff:10.0.0.1]"],
    "IPv4-compatible": ["[::127.0.0.1]"],
    "6to4 and NAT64": ["[2002:a9fe:a9fe::1]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b:1::1]"],
    "Teredo": ["[2001:0:4136:e378:8000:63bf:3fff:fdd2]"],
}
CASES = [(kind, host) for kind, hosts in REFUSED.items() for host in hosts]
PUBLIC = "93.184.216.34"


@pytest.fixture
def resolver(monkeypatch):
    """Names ending in .test resolve to what ``answers`` says at the moment."""
    answers = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kw):
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host][0] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


def test_private_addresses_are_refused_when_saved(app, tenant):
    for kind, host in CASES:
        answer = app.post_json("/api/v1/webhooks/", {"url": f"https://{host}/hook"},
                               headers=tenant.headers, status=400)
        assert answer.json["errors"][0]["name"] == "url", kind
        assert "refused address" in answer.json["errors"][0]["description"], kind
    assert app.get("/api/v1/webhooks/", headers=tenant.headers).json == []


@pytest.mark.parametrize(("kind", "host"), CASES)
def test_the_address_rule_refuses_every_range(kind, host):
    assert refusal(host) is not None


def test_public_addresses_are_accepted(app, tenant, resolver):
    resolver["hooks.test"] = [PUBLIC]
    for url in (f"https://{PUBLIC}/hook", "https://hooks.test/x", "https://[2606:4700::1111]/"):
        app.post_json("/api/v1/webhooks/", {"url": url}, headers=tenant.headers, status=201)
    assert refusal(PUBLIC) is None and refusal("2606:4700::1111") is None


def test_a_name_resolving_to_a_private_address_is_refused(app, tenant, resolver):
    resolver["mixed.test"] = [PUBLIC, "10.1.2.3"]  # every address must be public
    for url in ("https://localhost/hook", "https://mixed.test/hook"):
        answer = app.post_json("/api/v1/webhooks/", {"url": url}, headers=tenant.headers,
                               status=400)
        assert "refused address" in answer.json["errors"][0]["description"]


def test_http_needs_allow_http(app, tenant, database):
    url = f"http://{PUBLIC}/hook"
    refused = app.post_json("/api/v1/webhooks/", {"url": url}, headers=tenant.headers,
                            status=400)
    assert refused.json["errors"][0]["description"] == "must be an https URL"
    wsgi = make_app(database, **{"tracee.webhooks.allow_http": "true"})
    try:
        TestApp(wsgi).post_json("/api/v1/webhooks/", {"url": url}, headers=tenant.headers,
                                status=201)
    finally:
        wsgi.registry["db.engine"].dispose()


def test_user_info_in_the_url_is_refused(app, tenant):
    answer = app.post_json("/api/v1/webhooks/", {"url": f"https://me:pw@{PUBLIC}/"},
                           headers=tenant.headers, status=400)
    assert answer.json["errors"][0]["name"] == "url"


def test_connect_time_pins_the_checked_address(resolver):
    """The connection goes to the address that was checked: a private one is refused."""
    with receiver() as (url, rec):
        port = url.rsplit(":", 1)[1].strip("/")
        http = delivery_session(WebhookSettings(allow_http=True))
        resolver["rebind.test"] = ["127.0.0.1"]
        with pytest.raises(TargetRefused):
            http.post(f"http://rebind.test:{port}/", data=b"{}")
        with pytest.raises(TargetRefused):
            http.post(url, data=b"{}")
        # requests-hardened alone lets this one through; our rule on its pinned address does not.
        resolver["compat.test"] = ["::127.0.0.1"]
        with pytest.raises(TargetRefused, match="reserved"):
            http.post(f"http://compat.test:{port}/", data=b"{}")
        # Allowed (development), the same request arrives: the refusal above was the guard.
        open_http = delivery_session(WebhookSettings(allow_http=True,
                                                     allow_private_targets=True))
        assert open_http.post(f"http://rebind.test:{port}/", data=b"{}").status_code == 200
    assert len(rec.received) == 1


def test_dns_rebinding_after_save_reaches_nothing(database, tenant, resolver):
    """Saved while the name resolves to a public address; by delivery it points
    at 127.0.0.1: the worker refuses to connect and logs why."""
    from test_webhooks_delivery import Worker, make_settings

    settings = {**FAST, "tracee.webhooks.allow_private_targets": "false",
                "tracee.webhooks.retry_delays": "0.01"}
    wsgi = make_app(database, **settings)
    api = TestApp(wsgi, extra_environ={"HTTP_X_API_KEY": tenant.key})
    try:
        with receiver() as (url, rec):
            port = url.rsplit(":", 1)[1].strip("/")
            resolver["rebind.test"] = [PUBLIC]
            hook = api.post_json("/api/v1/webhooks/", {"url": f"http://rebind.test:{port}/"},
                                 status=201).json
            resolver["rebind.test"] = ["127.0.0.1"]
            api.post_json("/api/v1/trackers/", {"name": "x"}, status=201)
            loop = Worker(make_settings(database, **settings))
            import threading

            thread = threading.Thread(target=loop.run, daemon=True)
            thread.start()
            until(lambda: all_finished(database))
            loop.stop()
            thread.join(10)
        assert rec.received == []
        log = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json
        assert len(log) == 2 and all(a["error"].startswith("refused: ") for a in log)
        assert all(a["response_status"] is None for a in log)
    finally:
        wsgi.registry["db.engine"].dispose()
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT state FROM webhook_deliveries")) == "failed"


def test_private_targets_are_allowed_only_in_development():
    def setting(ini):
        parser = ConfigParser(interpolation=None)
        parser.read(ROOT / ini)
        return parser["app:main"].get("tracee.webhooks.allow_private_targets")

    assert setting("development.ini") == "true"
    assert setting("production.ini") in (None, "false")
    assert WebhookSettings.from_settings({}).allow_private_targets is False


def test_requests_never_reach_a_redirect_target():
    http = delivery_session(WebhookSettings(allow_http=True, allow_private_targets=True))
    with receiver() as (target, hit), receiver(
            lambda n, r: (307, {"Location": target}, b"")) as (url, _rec):
        answer = http.post(url, data=b"{}")
    assert answer.status_code == 307 and hit.received == []
    assert isinstance(answer, requests.Response)


def test_a_host_that_does_not_resolve_in_time_is_a_fast_400(tenant, database, monkeypatch):
    released = threading.Event()

    def hanging(*args, **kw):  # a resolver that never answers
        released.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "timed out")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    wsgi = make_app(database, **{"tracee.webhooks.resolve_timeout": "0.2"})
    try:
        started = time.monotonic()
        refused = TestApp(wsgi).post_json("/api/v1/webhooks/", {"url": "https://slow.example/"},
                                          headers=tenant.headers, status=400).json
        assert time.monotonic() - started < 2
    finally:
        released.set()
        wsgi.registry["db.engine"].dispose()
    [error] = refused["errors"]
    assert error["name"] == "url"
    assert error["description"] == "host slow.example did not resolve within 0.2 s"


def test_a_name_that_does_not_resolve_is_a_400(app, tenant):
    refused = app.post_json("/api/v1/webhooks/", {"url": "https://nowhere.invalid/"},
                            headers=tenant.headers, status=400).json
    assert refused["errors"][0]["description"] == "host nowhere.invalid does not resolve"


def test_the_resolve_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeouts > 0"):
        WebhookSettings.from_settings({"tracee.webhooks.resolve_timeout": "0"})
