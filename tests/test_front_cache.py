"""The front cache: repeated public QR images are answered before the framework,
and nothing else is ever answered from it."""

import pytest
import sqlalchemy as sa
from conftest import make_app
from webtest import TestApp

from tracee.front_cache import MARK, FrontCache, is_file_path, mark_immutable


@pytest.fixture
def front(database):
    """An app of its own (the cache lives as long as the app), with a count of the
    requests that reached the framework behind it."""
    front = make_app(database)
    router, reached = front.app, []

    def counting(environ, start_response):
        reached.append(environ["PATH_INFO"])
        return router(environ, start_response)

    for layer in (front, front.files, front.progress, front.keyed_qr):
        layer.app = counting
    return front, TestApp(front), reached


def created(client, tenant):
    return client.post_json("/api/v1/trackers/", {"name": "Vase", "template": "3d-printing"},
                            headers=tenant.headers, status=201).json


def test_a_repeated_public_qr_is_answered_whole_without_the_framework(front, tenant):
    wrapper, client, reached = front
    qr = f"/track/{created(client, tenant)['tracking_token']}/qr.png"
    first = client.get(qr, status=200)
    reached.clear()
    again = client.get(qr, status=200)
    assert reached == []
    assert again.body == first.body and again.content_type == "image/png"
    assert sorted(again.headerlist) == sorted(first.headerlist)
    for header in ("ETag", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options",
                   "Referrer-Policy", "X-Frame-Options"):
        assert again.headers[header] == first.headers[header]
    # another size is another entry: it goes through the stack once
    client.get(qr, {"size": "120"}, status=200)
    assert reached == [qr]


@pytest.mark.parametrize("if_none_match", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_a_kept_qr_revalidates_with_304(front, tenant, if_none_match):
    _, client, reached = front
    qr = f"/track/{created(client, tenant)['tracking_token']}/qr.png"
    etag = client.get(qr, status=200).headers["ETag"]
    reached.clear()
    response = client.get(qr, headers={"If-None-Match": if_none_match.format(etag=etag)},
                          status=304)
    assert reached == [] and response.body == b""
    assert response.headers["ETag"] == etag
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Type" not in response.headers
    client.get(qr, headers={"If-None-Match": '"stale"'}, status=200)


def test_what_failed_or_needs_a_key_is_never_kept(front, tenant):
    wrapper, client, reached = front
    tracker = created(client, tenant)
    unknown = "/track/00000000-0000-4000-8000-000000000000/qr.png"
    api_qr = f"/api/v1/trackers/{tracker['id']}/qr/"
    for _ in range(2):
        client.get(unknown, status=404)
        client.get(api_qr, headers=tenant.headers, status=200)
        client.get(f"/track/{tracker['tracking_token']}", status=200)
    assert reached.count(unknown) == reached.count(api_qr) == 2
    assert reached.count(f"/track/{tracker['tracking_token']}") == 2
    # the keyed image checks its key every time: revoked is refused at once
    session = wrapper.registry["db.session_factory"]()
    session.execute(sa.text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP"))
    session.commit()
    session.close()
    client.get(api_qr, headers=tenant.headers, status=401)


def test_a_kept_qr_stays_on_the_host_that_resolved_it(front, make_tenant):
    _, client, reached = front
    brand = make_tenant("brand", "Brand Co", domain="track.brand.test")
    rival = make_tenant("rival", "Rival Inc")
    foreign = f"/track/{created(client, rival)['tracking_token']}/qr.png"
    client.get(foreign, status=200)  # kept for the platform host
    reached.clear()
    client.get(foreign, headers={"Host": "track.brand.test"}, status=404)
    assert reached == [foreign]
    own = f"/track/{created(client, brand)['tracking_token']}/qr.png"
    client.get(own, headers={"Host": "track.brand.test"}, status=200)


def test_the_cache_holds_at_most_its_bytes_least_recent_out():
    served = []

    def app(environ, start_response):
        served.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        environ[MARK] = environ["PATH_INFO"] != "/unmarked"
        return [environ["PATH_INFO"].encode() * 10]  # 20 bytes

    cache = FrontCache(app, max_bytes=50)
    client = TestApp(cache)
    for path in ("/a", "/b", "/unmarked", "/a", "/c", "/a", "/b"):
        assert client.get(path).body == path.encode() * 10
    # /a was kept; /b was evicted as least recent when /c came, so it was served again
    assert served == [("GET", p) for p in ("/a", "/b", "/unmarked", "/c", "/b")]
    assert [key[1] for key in cache._kept] == ["/a", "/b"] and cache._bytes == 40
    client.post("/a")  # only GET is ever answered from it
    assert served[-1] == ("POST", "/a")


def test_only_a_front_that_may_answer_sees_a_request(database, tenant):
    """tracee.fronts: a keyed read and a tracking page go straight to the framework;
    each front sees only the addresses of its kind."""
    app = make_app(database)
    seen = []

    def recording(name, front):
        def record(environ, start_response):
            seen.append((name, environ["PATH_INFO"]))
            return front(environ, start_response)
        return record

    for name in ("files", "progress", "keyed_qr"):
        setattr(app, name, recording(name, getattr(app, name)))
    client = TestApp(app)
    tracker = created(client, tenant)
    token, api = tracker["tracking_token"], f"/api/v1/trackers/{tracker['id']}/"
    client.get(api, headers=tenant.headers, status=200)
    client.get(f"/track/{token}", status=200)
    client.get(f"/embed/{token}/", status=200)
    client.post_json(f"{api}status/", {"process": "Preparing/Slicing", "action": "start"},
                     headers=tenant.headers, status=200)
    assert seen == []
    client.get(f"{api}qr/", headers=tenant.headers, status=200)
    client.get(f"/track/{token}/progress.json", status=200)
    client.get(f"/track/{token}/qr.png", status=200)
    client.head(f"/track/{token}/qr.png", status=200)  # HEAD: the framework's
    assert seen == [("keyed_qr", f"{api}qr/"), ("progress", f"/track/{token}/progress.json"),
                    ("files", f"/track/{token}/qr.png")]


@pytest.mark.parametrize(("path", "kept"), [
    ("/assets/" + "a" * 64 + ".png", True), ("/track/t/qr.png", True),
    ("/track/t", False), ("/embed/t/", False), ("/api/v1/trackers/1/", False),
    ("/api/v1/trackers/1/qr/", False), ("/", False), ("", False),
])
def test_a_response_may_be_kept_only_at_a_files_address(path, kept):
    assert is_file_path(path) is kept
    environ = {"PATH_INFO": path}
    request = type("Request", (), {"path_info": path, "environ": environ})()
    if kept:
        mark_immutable(request)
        assert environ[MARK] is True
    else:
        with pytest.raises(ValueError, match="not a file's address"):
            mark_immutable(request)
        assert MARK not in environ
