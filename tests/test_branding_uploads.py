"""Logo and favicon uploads: refused unless a real raster image, re-encoded, served by hash."""

import base64
import hashlib
import re
import zlib
from io import BytesIO
from struct import pack

import pytest
import sqlalchemy as sa
from conftest import make_app
from images import image_bytes, png_bytes
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401
from PIL import Image
from webtest import TestApp, Upload

from tracee.branding.images import MAX_UPLOAD_BYTES, ImageRefused, process_upload

pytestmark = pytest.mark.usefixtures("cheap_hashing")
BRANDING = "/dashboard/acme/settings/branding/"


def upload(app, kind, name, data, status=302, content_type="image/png"):
    form = next(f for f in app.get(BRANDING).forms.values()
                if f.action.endswith(BRANDING + kind) and "file" in f.fields)
    form["file"] = Upload(name, data, content_type)
    return form.submit(status=status)


def own(app, tenant):
    return app.get("/api/v1/branding/", headers=tenant.headers).json["own"]


def assets(database):
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM tenant_assets"))


def bomb_png(width=20_000, height=20_000) -> bytes:
    """A valid PNG header claiming 400 megapixels, in a few hundred bytes."""
    def chunk(kind, data):
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + b"\x00" * (width // 8 + 1)
    body = zlib.compress(row * 50, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


# --- the image rules themselves ------------------------------------------------------------


def test_a_png_is_re_encoded_without_its_metadata():
    original = png_bytes("x")
    assert b"secret-x" in original
    kept = process_upload(original, "logo")
    assert b"secret-x" not in kept.data
    image = Image.open(BytesIO(kept.data))
    assert image.format == "PNG" and kept.content_type == "image/png"
    assert not {k for k in image.info if k not in ("dpi",)}, image.info
    assert kept.sha256 == hashlib.sha256(kept.data).hexdigest()


@pytest.mark.parametrize("fmt, kwargs", [
    ("JPEG", {"exif": b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00", "comment": b"gps here"}),
    ("WEBP", {}),
    ("GIF", {}),
])
def test_jpeg_webp_and_gif_are_accepted_and_kept_as_png(fmt, kwargs):
    kept = process_upload(image_bytes(fmt, **kwargs), "logo")
    image = Image.open(BytesIO(kept.data))
    assert image.format == "PNG"
    assert "exif" not in image.info and "comment" not in image.info
    assert b"gps here" not in kept.data


def test_large_images_are_scaled_into_their_box():
    kept = process_upload(image_bytes("PNG", size=(3000, 600)), "logo")
    assert (kept.width, kept.height) == (1024, 205)
    favicon = process_upload(image_bytes("PNG", size=(1000, 1000)), "favicon")
    assert (favicon.width, favicon.height) == (256, 256)


@pytest.mark.parametrize("data, message", [
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
     b"</svg>", "SVG images are not accepted"),
    (b"<svg onload=alert(1)>", "SVG images are not accepted"),
    (b"just some text, named logo.png", "not a PNG, JPEG, WebP or GIF image"),
    (b"%PDF-1.4\n", "not a PNG, JPEG, WebP or GIF image"),
    (b"", "Choose an image file"),
    (image_bytes("BMP"), "not a PNG, JPEG, WebP or GIF image"),
    (image_bytes("TIFF"), "not a PNG, JPEG, WebP or GIF image"),
    (png_bytes(size=(300, 300))[:-20], "damaged"),
    (b"x" * (MAX_UPLOAD_BYTES + 1), "larger than 512 KB"),
    (bomb_png(), "too many pixels: at most 25 million"),  # Pillow's own limit
    (bomb_png(6000, 6000), "too many pixels: at most 25 million"),  # ours, below Pillow's
])
def test_what_is_refused(data, message):
    with pytest.raises(ImageRefused, match=message):
        process_upload(data, "logo")


# --- through the dashboard -------------------------------------------------------------------


def test_uploading_a_logo_points_the_theme_at_our_own_asset(app, owner, database):
    page = upload(app, "logo", "logo.png", png_bytes()).follow()
    path = own(app, owner)["logo_url"]
    assert re.fullmatch(r"/assets/[0-9a-f]{64}\.png", path)
    assert page.html.find("img", attrs={"src": path})
    served = app.get(path)
    assert served.content_type == "image/png"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"].startswith("default-src 'none'; sandbox")
    assert hashlib.sha256(served.body).hexdigest() == path[8:72]
    assert b"secret-" not in served.body
    # The tracking page shows it, from our origin.
    tracker = app.post_json("/api/v1/trackers/", {"name": "Vase", "template": "3d-printing"},
                            headers=owner.headers, status=201).json
    assert f'src="{path}"' in app.get(tracker["tracking_url"].split("6543")[-1]).text
    # The same file again: one row.
    upload(app, "logo", "again.png", png_bytes())
    assert assets(database) == 1


def test_a_favicon_upload_and_going_back_to_the_inherited_one(app, owner):
    upload(app, "favicon", "icon.gif", image_bytes("GIF"), content_type="image/gif")
    path = own(app, owner)["favicon_url"]
    assert path.endswith(".png")
    form = next(f for f in app.get(BRANDING).forms.values()
                if f.action.endswith(BRANDING + "favicon") and "clear" in f.fields)
    form.submit("clear", status=302)
    assert own(app, owner)["favicon_url"] is None
    app.get(path, status=200)  # the address stays valid for pages cached with it


@pytest.mark.parametrize("name, data, message", [
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG images are not accepted"),
    ("logo.png", b"this is a text file", "not a PNG, JPEG, WebP or GIF image"),
    ("bomb.png", bomb_png(), "too many pixels"),
])
def test_refused_uploads_say_why_beside_the_field(app, owner, database, name, data, message):
    page = upload(app, "logo", name, data, status=400)
    error = page.html.find(id="logo-error")
    assert message in error.text
    assert "logo-error" in page.html.find(id="f-logo-file")["aria-describedby"]
    assert own(app, owner)["logo_url"] is None
    assert assets(database) == 0


def test_an_oversized_body_is_refused_before_it_is_read(app, owner, database):
    page = upload(app, "logo", "big.png", b"\x89PNG" + b"0" * (MAX_UPLOAD_BYTES + 20_000),
                  status=413)
    assert "larger than 512 KB" in page.html.find(id="logo-error").text
    assert assets(database) == 0


def test_unknown_or_malformed_asset_addresses_are_not_found(app, owner):
    upload(app, "logo", "logo.png", png_bytes())
    path = own(app, owner)["logo_url"]
    app.get(path.replace(".png", ".webp"), status=404)
    app.get("/assets/" + "0" * 64 + ".png", status=404)
    app.get("/assets/../static/tracee.css", status=404)
    app.get("/assets/" + path[8:72].upper() + ".png", status=404)


def test_the_api_accepts_our_asset_paths_but_still_only_https_urls(app, tenant):
    path = "/assets/" + "a" * 64 + ".png"
    app.put_json("/api/v1/branding/", {"logo_url": path}, headers=tenant.headers, status=200)
    for bad in ("/assets/../x.png", "//evil.example/x.png", "http://x.example/l.png",
                "/assets/" + "a" * 64 + ".svg", "javascript:alert(1)"):
        answer = app.put_json("/api/v1/branding/", {"favicon_url": bad},
                              headers=tenant.headers, status=400)
        assert answer.json["errors"][0]["name"] == "favicon_url"


def test_another_tenant_cannot_upload_here(app, registry, owner, other_tenant):
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    app.reset()
    log_in(app, "owner@globex.test")
    app.post(BRANDING + "logo", {"clear": "1"}, status=404)


# --- through the API ------------------------------------------------------------------------


def test_the_api_takes_an_upload_as_base64(app, tenant, database):
    body = {"content_base64": base64.b64encode(png_bytes()).decode()}
    theme = app.put_json("/api/v1/branding/logo", body, headers=tenant.headers).json
    path = theme["own"]["logo_url"]
    assert re.fullmatch(r"/assets/[0-9a-f]{64}\.png", path)
    assert b"secret-" not in app.get(path).body
    favicon = app.put_json("/api/v1/branding/favicon/", body, headers=tenant.headers).json
    assert re.fullmatch(r"/assets/[0-9a-f]{64}\.png", favicon["own"]["favicon_url"])
    assert favicon["own"]["logo_url"] == path


@pytest.mark.parametrize("content, message", [
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"<svg onload=alert(1)>").decode(), "SVG images are not accepted"),
    (base64.b64encode(b"plain text").decode(), "not a PNG, JPEG, WebP or GIF"),
    (base64.b64encode(bomb_png()).decode(), "too many pixels"),
])
def test_the_api_refuses_what_the_dashboard_refuses(app, tenant, database, content, message):
    answer = app.put_json("/api/v1/branding/logo", {"content_base64": content},
                          headers=tenant.headers, status=400).json
    assert answer["errors"][0]["name"] == "content_base64"
    assert message in answer["errors"][0]["description"]
    assert assets(database) == 0


def test_the_api_refuses_an_oversized_upload_before_decoding(app, tenant):
    body = {"content_base64": "A" * (MAX_UPLOAD_BYTES * 2)}
    app.put_json("/api/v1/branding/logo", body, headers=tenant.headers, status=413)


def test_guessing_asset_addresses_is_limited_per_address(database, tenant):
    limited = TestApp(make_app(database, **{"tracee.ratelimit.public": "3/minute"}))
    for _ in range(3):
        limited.get("/assets/" + "0" * 64 + ".png", status=404)
    limited.get("/assets/" + "1" * 64 + ".png", status=429)
