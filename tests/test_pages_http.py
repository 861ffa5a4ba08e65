"""The public pages over HTTP: security headers, escaping, hidden steps, the
friendly 404, QR codes that scan back to the tracking URL, and tokens."""

import io
import re
import uuid

import pytest
import zxingcpp
from PIL import Image

XSS = "<script>alert(1)</script>"


def csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in policy.split(";")) if part
    }


def decode_qr(png: bytes) -> tuple[str, Image.Image]:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    # QR codes only: a QR's modules can read as a stray one-dimensional code.
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"{len(found)} codes found"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text, image


@pytest.fixture
def tracker(app, tenant, create):
    made = create(name="Order #1234 - Blue Vase")
    app.post_json(f"/api/v1/trackers/{made['id']}/status/",
                  {"process": "3D Printing", "action": "start"}, headers=tenant.headers)
    return made


# -- security headers -------------------------------------------------------------

def assert_not_framable(response):
    assert response.headers["X-Frame-Options"] == "DENY"
    assert csp(response)["frame-ancestors"] == "'none'"


def assert_common(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = csp(response)
    assert policy["default-src"] == "'none'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    # Only the page's own script file (live updates) may run: nothing inline.
    assert policy.get("script-src", "'self'") == "'self'"


def test_tracking_page_headers(app, tracker):
    response = app.get(f"/track/{tracker['tracking_token']}", status=200)
    assert_common(response)
    assert_not_framable(response)
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_embed_headers_allow_framing(app, tracker):
    response = app.get(f"/embed/{tracker['tracking_token']}/", status=200)
    assert_common(response)
    assert "X-Frame-Options" not in response.headers
    ancestors = csp(response)["frame-ancestors"]
    assert ancestors != "'none'" and ancestors  # any shop may frame the widget
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_public_qr_headers(app, tracker):
    response = app.get(f"/track/{tracker['tracking_token']}/qr.png", status=200)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert_not_framable(response)


@pytest.mark.parametrize("path", ["/", "/static/tracee.css", "/nowhere", f"/track/{uuid.uuid4()}",
                                  "/track/not-a-token"])
def test_other_pages_refuse_framing(app, path):
    response = app.get(path, expect_errors=True)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert_not_framable(response)


@pytest.mark.parametrize("capability", [True, False])
def test_referrer_policy_outside_capability_urls(app, capability):
    path = f"/track/{uuid.uuid4()}" if capability else "/nowhere"
    response = app.get(path, expect_errors=True)
    expected = "no-referrer" if capability else "strict-origin-when-cross-origin"
    assert response.headers["Referrer-Policy"] == expected


def test_api_responses_refuse_framing(app, tenant, tracker):
    responses = [
        app.get("/api/v1/trackers/", headers=tenant.headers),
        app.get(tracker["api_url"], headers=tenant.headers),
        app.get(f"/api/v1/trackers/{tracker['id']}/qr/", headers=tenant.headers),
        app.post_json("/api/v1/trackers/", {"name": 5}, headers=tenant.headers, status=400),
        app.get("/api/v1/trackers/", status=401),
        app.get("/api/v1/nowhere", status=404),
        app.delete("/api/v1/trackers/", headers=tenant.headers, status=405),
    ]
    for response in responses:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert_not_framable(response)
        assert response.headers["Cache-Control"] == "no-store" or "private" in (
            response.headers["Cache-Control"])


def test_style_nonce_is_fresh_and_matches_the_policy(app, tracker):
    nonces = []
    for _ in range(2):
        response = app.get(f"/track/{tracker['tracking_token']}")
        (in_page,) = re.findall(r'<style nonce="([^"]+)"', response.text)
        assert f"'nonce-{in_page}'" in csp(response)["style-src"]
        nonces.append(in_page)
    assert nonces[0] != nonces[1]


# -- escaping -------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["/track/{token}", "/embed/{token}/"])
def test_tracker_name_is_escaped(app, create, page):
    made = create(name=XSS)
    response = app.get(page.format(token=made["tracking_token"]))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    scripts = re.findall(r"<script[^>]*>", response.text.lower())
    assert scripts == ['<script src="/static/live.js" defer>']
    assert XSS not in response.text


@pytest.mark.parametrize("page", ["/track/{token}", "/embed/{token}/"])
def test_tenant_and_step_names_are_escaped(app, make_tenant, page):
    evil = make_tenant("evil", name='Evil" onmouseover="alert(1)',
                       logo_url="https://cdn.example/logo.png?a=1&b=2")
    made = app.post_json("/api/v1/trackers/", {"name": "Order"}, headers=evil.headers,
                         status=201).json
    app.post_json(f"/api/v1/trackers/{made['id']}/status/",
                  {"process": "<img src=x onerror=alert(2)>", "action": "start"},
                  headers=evil.headers)
    text = app.get(page.format(token=made["tracking_token"])).text
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(2)&gt;" in text
    assert '" onmouseover="' not in text
    assert "Evil&#34; onmouseover=&#34;alert(1)" in text or (
        "Evil&quot; onmouseover=&quot;alert(1)" in text)


def test_embed_code_in_the_api_is_safe_markup(app, tracker):
    code = tracker["embed_code"]
    assert code.startswith('<iframe src="https://tracee.test/embed/')
    assert f"/embed/{tracker['tracking_token']}/\"" in code
    assert code.count("<") == 2 and "<script" not in code


# -- hidden steps ------------------------------------------------------------------

@pytest.fixture
def hidden(app, tenant):
    app.post_json("/api/v1/templates/", {
        "slug": "with-secret", "name": "With a secret",
        "steps": [{"name": "Intake"}, {"name": "Secret internal audit", "visible": False},
                  {"name": "Dispatch"}],
    }, headers=tenant.headers, status=201)
    made = app.post_json("/api/v1/trackers/", {"name": "Order #5", "template": "with-secret"},
                         headers=tenant.headers, status=201).json
    return made


@pytest.mark.parametrize("page", ["/track/{token}", "/embed/{token}/"])
@pytest.mark.parametrize("state", ["pending", "current", "completed"])
def test_hidden_steps_never_appear_on_public_pages(app, tenant, hidden, page, state):
    status = f"/api/v1/trackers/{hidden['id']}/status/"
    if state == "current":
        app.post_json(status, {"process": "Secret internal audit", "action": "start"},
                      headers=tenant.headers)
    elif state == "completed":
        app.post_json(status, {"process": "Secret internal audit", "action": "complete"},
                      headers=tenant.headers)
    api = app.get(hidden["api_url"], headers=tenant.headers).json
    assert [s["name"] for s in api["steps"] if not s["visible"]] == ["Secret internal audit"]
    text = app.get(page.format(token=hidden["tracking_token"])).text
    assert "Secret internal audit" not in text
    assert "secret" not in text.lower()
    assert "Intake" in text and "Dispatch" in text
    assert "of 2 steps" in text  # the count leaves it out as well


def test_hidden_steps_of_the_builtin_template_are_hidden(app, tenant, tracker):
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": "Quality Check", "action": "start"}, headers=tenant.headers)
    text = app.get(f"/track/{tracker['tracking_token']}").text
    assert "Quality Check" not in text
    assert "Post-Processing" in text


# -- not found --------------------------------------------------------------------------

@pytest.mark.parametrize("token", [
    str(uuid.uuid4()), "not-a-token", "123", "0" * 32, str(uuid.uuid4()) + "x",
    "%27%20OR%201=1--", "a" * 5000, "..%2F..%2Fetc%2Fpasswd",
])
@pytest.mark.parametrize("page", ["/track/{token}", "/embed/{token}/", "/track/{token}/qr.png"])
def test_unknown_or_malformed_token_is_a_friendly_404(app, tracker, page, token):
    response = app.get(page.format(token=token), status=404)
    assert response.content_type == "text/html"
    assert "find that order" in response.text
    assert "Traceback" not in response.text and "Blue Vase" not in response.text
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/track/%FF", "/embed/%C3%28/", "/track/x?size=%FF"])
def test_undecodable_public_address_is_400_not_500(app, path):
    response = app.get(path, status=400)
    assert "UTF-8" in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_token_lookup_is_case_insensitive_but_exact(app, tracker):
    token = tracker["tracking_token"]
    app.get(f"/track/{token.upper()}", status=200)
    app.get(f"/track/{token[:-1]}", status=404)
    app.get(f"/track/{token[:-1]}{'0' if token[-1] != '0' else '1'}", status=404)


# -- QR codes -------------------------------------------------------------------------

def test_api_qr_decodes_to_the_tracking_url(app, tenant, tracker):
    response = app.get(f"/api/v1/trackers/{tracker['id']}/qr/", headers=tenant.headers)
    assert response.content_type == "image/png"
    text, image = decode_qr(response.body)
    assert text == tracker["tracking_url"]
    assert image.width >= 300
    assert "private" in response.headers["Cache-Control"]


def test_public_qr_decodes_to_the_tracking_url(app, tracker):
    response = app.get(f"/track/{tracker['tracking_token']}/qr.png")
    assert response.content_type == "image/png"
    assert decode_qr(response.body)[0] == tracker["tracking_url"]
    assert "public" in response.headers["Cache-Control"]


def test_qr_code_url_from_the_api_works_with_a_query_key(app, tenant, tracker):
    url = tracker["qr_code_url"].replace("https://tracee.test", "")
    response = app.get(url, {"api_key": tenant.key})
    assert decode_qr(response.body)[0] == tracker["tracking_url"]


@pytest.mark.parametrize("size", [64, 100, 300, 640, 1200])
def test_qr_size_within_bounds_sets_the_pixel_size(app, tenant, tracker, size):
    for response in (
        app.get(f"/api/v1/trackers/{tracker['id']}/qr/", {"size": size}, headers=tenant.headers),
        app.get(f"/track/{tracker['tracking_token']}/qr.png", {"size": size}),
    ):
        text, image = decode_qr(response.body)
        assert text == tracker["tracking_url"]
        assert image.width == image.height
        # whole pixels per module: at least the size asked for, less than one module more
        modules = image.width // max(1, _box_size(image))
        assert size <= image.width < size + modules, (size, image.width)


def _box_size(image: Image.Image) -> int:
    """Pixels per module: the top edge of the top-left finder pattern is 7 modules wide."""
    gray = image.convert("L")
    for y in range(image.height):
        row = [gray.getpixel((x, y)) < 128 for x in range(image.width)]
        if any(row):
            start = row.index(True)
            run = row[start:].index(False) if False in row[start:] else len(row) - start
            assert run % 7 == 0, run
            return run // 7
    raise AssertionError("blank image")


def test_qr_sizes_differ(app, tenant, tracker):
    widths = {
        Image.open(io.BytesIO(app.get(f"/api/v1/trackers/{tracker['id']}/qr/", {"size": s},
                                      headers=tenant.headers).body)).width
        for s in (100, 600)
    }
    assert len(widths) == 2


@pytest.mark.parametrize("size", ["63", "1201", "0", "-5", "abc", "1e3"])
def test_qr_size_out_of_bounds_is_400_json_on_the_api(app, tenant, tracker, size):
    response = app.get(f"/api/v1/trackers/{tracker['id']}/qr/", {"size": size},
                       headers=tenant.headers, status=400)
    (error,) = response.json["errors"]
    assert (error["location"], error["name"]) == ("querystring", "size")


@pytest.mark.parametrize("size, clamped", [("5", "64"), ("99999", "1200"), ("abc", "300")])
def test_public_qr_clamps_the_size(app, tracker, size, clamped):
    base = f"/track/{tracker['tracking_token']}/qr.png"
    assert app.get(base, {"size": size}).body == app.get(base, {"size": clamped}).body


@pytest.mark.parametrize("public", [False, True])
def test_qr_etag_gives_304(app, tenant, tracker, public):
    if public:
        url, headers = f"/track/{tracker['tracking_token']}/qr.png", {}
    else:
        url, headers = f"/api/v1/trackers/{tracker['id']}/qr/", tenant.headers
    first = app.get(url, headers=headers, status=200)
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{16,}"', etag)
    again = app.get(url, headers={**headers, "If-None-Match": etag}, status=304)
    assert again.body == b"" and again.headers["ETag"] == etag
    assert "Content-Type" not in again.headers
    app.get(url, headers={**headers, "If-None-Match": f'"nope", {etag}'}, status=304)
    app.get(url, headers={**headers, "If-None-Match": '"something-else"'}, status=200)
    other = app.get(url, {"size": 500}, headers=headers, status=200)
    assert other.headers["ETag"] != etag


# -- tracking tokens -------------------------------------------------------------------

def test_tracking_tokens_are_random_uuid4(app, tenant):
    tokens = []
    for n in range(20):
        made = app.post_json("/api/v1/trackers/", {"name": f"Order #{n + 1}"},
                             headers=tenant.headers, status=201).json
        token = uuid.UUID(made["tracking_token"])
        assert token.version == 4 and token.variant == uuid.RFC_4122
        assert made["tracking_url"] == f"https://tracee.test/track/{token}"
        tokens.append(token.int)
    assert len(set(tokens)) == len(tokens)
    gaps = [abs(b - a) for a, b in zip(tokens, tokens[1:], strict=False)]
    assert min(gaps) > 2**64, "consecutive tokens are close together: sequential?"
    assert tokens != sorted(tokens) and tokens != sorted(tokens, reverse=True)


@pytest.mark.parametrize("page", ["/track/{token}", "/embed/{token}/"])
def test_pages_are_utf8_and_say_so(app, create, page):
    made = create(name="Vase für Zoë · № 7")
    response = app.get(page.format(token=made["tracking_token"]))
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert "Vase für Zoë · № 7".encode() in response.body
    assert int(response.headers["Content-Length"]) == len(response.body)
