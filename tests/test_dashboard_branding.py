"""Settings -> Branding: the theme form, its errors beside their fields, roles and the preview."""

import re

import pytest
import sqlalchemy as sa
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401

from tracee.branding.theme import FIELDS

pytestmark = pytest.mark.usefixtures("cheap_hashing")
BRANDING = "/dashboard/acme/settings/branding/"
FORM_FIELDS = [f for f in FIELDS if f.kind not in ("steps",) and f.name not in
               ("logo_url", "favicon_url")]


def theme(app, handle):
    return app.get("/api/v1/branding/", headers=handle.headers).json


def put(app, handle, body):
    return app.put_json("/api/v1/branding/", body, headers=handle.headers).json


def theme_form(app):
    return app.get(BRANDING).forms["theme-form"]


def error_beside(page, field: str) -> str:
    """The error shown in the field's own block, linked from its input."""
    block = page.html.find(id=f"field-{field}")
    error = block.find(class_="field-error")
    control = block.find(attrs={"name": field})
    assert f"f-{field}-error" in control["aria-describedby"]
    assert control["aria-invalid"] == "true"
    return error.get_text()


def version(database, tenant_id):
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text("SELECT branding_version FROM tenants WHERE id = :id"),
                           {"id": tenant_id})


def test_every_theme_field_has_an_input(app, owner):
    form = theme_form(app)
    for spec in FORM_FIELDS:
        assert spec.name in form.fields, spec.name
        assert app.get(BRANDING).html.find("label", attrs={"for": f"f-{spec.name}"}).get_text() \
            == spec.label
    assert form.html.find("input", attrs={"type": "color", "name": "brand_color-picker"})
    assert "display_name" in form.fields


def test_saving_stores_through_the_api_rules_and_bumps_the_version(app, owner, database):
    before = version(database, owner.id)
    form = theme_form(app)
    form["display_name"] = "Acme Prints & Co"
    form["brand_color"] = "#0F766E"
    form["font"] = "serif"
    form["corner_radius"] = "4"
    form["back_link_label"] = "Acme shop"
    form["back_link_url"] = "https://acme.example/"
    form["support_email"] = "help@acme.example"
    form["footer_text"] = "Made in Leeds"
    saved = form.submit(status=302).follow()
    assert "Saved." in saved.text
    own = theme(app, owner)["own"]
    assert own["brand_color"] == "#0f766e"
    assert own["font"] == "serif" and own["corner_radius"] == 4
    assert own["footer_text"] == "Made in Leeds"
    assert own["accent_color"] is None  # left empty: inherited
    assert version(database, owner.id) != before
    assert saved.forms["theme-form"]["display_name"].value == "Acme Prints & Co"
    assert "Set here" in saved.html.find(id="field-brand_color").get_text()


def test_the_swatch_alone_changes_a_colour_without_javascript(app, owner):
    form = theme_form(app)
    form["accent_color-picker"] = "#b45309"
    form.submit(status=302)
    assert theme(app, owner)["own"]["accent_color"] == "#b45309"
    form = theme_form(app)
    assert form["accent_color"].value == "#b45309"
    form.submit(status=302)  # nothing touched: nothing changes
    assert theme(app, owner)["own"]["accent_color"] == "#b45309"


def test_clearing_a_value_inherits_again(app, owner):
    put(app, owner, {"footer_text": "Old", "brand_color": "#0f766e"})
    page = app.get(BRANDING)
    form = page.forms["theme-form"]
    form.submit("clear", value="footer_text", status=302)
    own = theme(app, owner)["own"]
    assert own["footer_text"] is None and own["brand_color"] == "#0f766e"
    form = theme_form(app)
    form["brand_color"] = ""
    form.submit(status=302)
    assert theme(app, owner)["own"]["brand_color"] is None


@pytest.mark.parametrize("field, value, message", [
    ("brand_color", "red", "Brand colour must look like #1a2b3c"),
    ("corner_radius", "99", "Corner radius must be a whole number from 0 to 24"),
    ("corner_radius", "4.5", "Corner radius must be a whole number"),
    ("back_link_url", "http://acme.example/", "Back link address must be an https:// URL"),
    ("support_url", "javascript:alert(1)", "Help centre address must be an https:// or http://"),
    ("support_email", "not an address", "Support email must be an e-mail address"),
    ("support_phone", "call me", "Support phone must be digits"),
    ("footer_text", "x" * 501, "Footer text must be at most 500 characters"),
    ("font", "comic-sans", "Font must be one of"),
])
def test_each_error_is_shown_beside_its_field_and_nothing_is_saved(
        app, owner, field, value, message, database):
    before = version(database, owner.id)
    form = theme_form(app)
    form["footer_text"] = "Would be saved"
    if field == "font":
        form[field].force_value(value)
    else:
        form[field] = value
    page = form.submit(status=400)
    assert message in error_beside(page, field)
    assert "Nothing was saved" in page.text
    if field != "font":  # a select shows only its options
        assert page.forms["theme-form"][field].value == value  # kept to correct
    assert theme(app, owner)["own"]["footer_text"] is None
    assert version(database, owner.id) == before


def test_several_errors_at_once_each_beside_its_field(app, owner):
    form = theme_form(app)
    form["brand_color"] = "#12"
    form["support_email"] = "x"
    form["display_name"] = "   "
    page = form.submit(status=400)
    assert "Brand colour" in error_beside(page, "brand_color")
    assert "Support email" in error_beside(page, "support_email")
    assert "Display name must not be empty" in page.html.find(id="f-display_name-error").text


def test_unreadable_text_is_refused_with_the_contrast_beside_the_text_colour(app, owner):
    form = theme_form(app)
    form["text_color"] = "#999999"
    form["background_color"] = "#ffffff"
    page = form.submit(status=400)
    error = error_beside(page, "text_color")
    assert "contrast of 2.85:1" in error and "WCAG AA needs at least 4.5:1" in error
    assert theme(app, owner)["own"]["text_color"] is None


def test_step_labels_per_template_step(app, owner):
    form = theme_form(app)
    label = form.html.find("input", attrs={
        "aria-label": "Label for 3D Printing (3D Printing Workflow)"})["name"]
    index = label.split("-")[1]
    form[label] = "Shaping your vase"
    form[f"step-{index}-description"] = "Printed layer by layer."
    form.submit(status=302)
    steps = theme(app, owner)["own"]["steps"]
    assert steps == [{"template": "3d-printing", "step": "3D Printing",
                      "label": "Shaping your vase", "description": "Printed layer by layer."}]
    form = theme_form(app)
    form[label] = "x" * 101
    page = form.submit(status=400)
    error = page.html.find(id=f"step-{index}-label-error")
    assert "Label must be at most 100 characters" in error.text
    form = page.forms["theme-form"]
    form[label] = ""
    form[f"step-{index}-description"] = ""
    form.submit(status=302)
    assert theme(app, owner)["own"]["steps"] == []


def test_a_client_sees_what_it_inherits_and_from_whom(app, registry, make_tenant):
    agency = make_tenant("agency", "Blue Agency")
    client = make_tenant("client", "Client Shop", parent="agency")
    put(app, agency, {"brand_color": "#0f766e", "footer_text": "Agency footer",
                      "logo_url": "https://agency.example/logo.png"})
    make_user(registry, "owner@client.test", client.id, "owner")
    log_in(app, "owner@client.test")
    page = app.get("/dashboard/client/settings/branding/")
    note = page.html.find(id="f-brand_color-source").get_text()
    assert "Inherited from Blue Agency: #0f766e" in note
    assert "Inherited from Tracee's default: 12" in page.html.find(
        id="f-corner_radius-source").get_text()
    assert page.html.find("img", class_="current-logo")["src"] == "https://agency.example/logo.png"
    assert page.html.find(id="logo-source").get_text() == "Inherited from Blue Agency."
    assert "img-src 'self' https: data:" in page.headers["Content-Security-Policy"]
    form = page.forms["theme-form"]
    assert form["brand_color"].value == ""  # empty: inherits
    assert form["brand_color-picker"].value == "#0f766e"
    form["footer_text"] = "Client footer"
    form.submit(status=302)
    assert theme(app, client)["own"]["brand_color"] is None
    assert theme(app, client)["effective"]["footer_text"] == "Client footer"


def test_without_csrf_nothing_changes(app, owner, database):
    before = version(database, owner.id)
    app.post(BRANDING, {"display_name": "Hacked", "footer_text": "Hacked"}, status=400)
    app.post(BRANDING + "logo", {"clear": "1"}, status=400)
    assert theme(app, owner)["own"]["footer_text"] is None
    assert version(database, owner.id) == before
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT name FROM tenants WHERE slug = 'acme'")) == "Acme Prints"


@pytest.mark.parametrize("role", ["staff", "viewer"])
def test_staff_and_viewers_read_but_cannot_change(app, registry, tenant, role):
    make_user(registry, f"{role}@acme.test", tenant.id, role)
    log_in(app, f"{role}@acme.test")
    page = app.get(BRANDING)
    assert "theme-form" not in page.forms
    assert "an owner or admin can change it" in page.text
    assert page.html.find("iframe", attrs={"name": "preview"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', app.get("/account/").text).group(1)
    for path in ("", "logo", "favicon", "preview"):
        app.post(BRANDING + path, {"csrf_token": token, "footer_text": "x"}, status=403)
    app.get(BRANDING + "preview", status=200)


def test_another_tenants_branding_is_not_found(app, registry, owner, other_tenant):
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    app.reset()
    log_in(app, "owner@globex.test")
    for path in ("", "preview"):
        app.get(BRANDING + path, status=404)
    app.post(BRANDING, {"footer_text": "x"}, status=404)


def test_anonymous_is_sent_to_log_in(app, tenant):
    answer = app.get(BRANDING, status=302)
    assert "/login" in answer.location


# --- preview ----------------------------------------------------------------------------


def test_the_preview_is_the_tracking_page_on_a_sample_order(app, owner):
    put(app, owner, {"brand_color": "#0f766e", "footer_text": "Saved footer"})
    page = app.get(BRANDING + "preview")
    assert "Sample order" in page.text and "Order #1042" in page.text
    assert "--brand: #0f766e" in page.text
    assert "Saved footer" in page.text
    csp = page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<style nonce="{nonce}">' in page.text
    assert "frame-ancestors 'self'" in csp and "script-src" not in csp
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert page.headers["Cache-Control"] == "no-store"
    dashboard = app.get(BRANDING)
    assert "frame-src 'self'" in dashboard.headers["Content-Security-Policy"]
    assert "frame-src" not in app.get("/dashboard/acme/settings/").headers[
        "Content-Security-Policy"]


def test_previewing_unsaved_values_saves_nothing(app, owner, database):
    before = version(database, owner.id)
    form = theme_form(app)
    form["brand_color"] = "#b45309"
    form["footer_text"] = "Unsaved <b>footer</b>"
    form["display_name"] = "Preview Name"
    form["support_email"] = "broken"  # refused by its rule: the saved value is shown
    preview = app.post(BRANDING + "preview", dict(form.submit_fields()), status=200)
    assert "--brand: #b45309" in preview.text
    assert "Unsaved &lt;b&gt;footer&lt;/b&gt;" in preview.text
    assert "Tracking by Preview Name" in preview.text
    assert "broken" not in preview.text
    assert theme(app, owner)["own"]["brand_color"] is None
    assert version(database, owner.id) == before
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT name FROM tenants WHERE slug = 'acme'")) == "Acme Prints"


def test_the_preview_button_targets_the_frame_without_javascript(app, owner):
    page = app.get(BRANDING)
    button = page.html.find(id="preview-button")
    assert button["formaction"].endswith(BRANDING + "preview")
    assert button["formtarget"] == "preview"
    frame = page.html.find("iframe", attrs={"name": "preview"})
    assert frame["src"].endswith(BRANDING + "preview") and frame.has_attr("sandbox")


# --- hostile values ----------------------------------------------------------------------

HOSTILE_TEXT = '</style><script>alert(1)</script>"><img src=x onerror=alert(2)>}body{color:red}'
HOSTILE_URL = 'https://evil.example/"><script>alert(3)</script>'
RAW = ("<script>alert(", "<img src=x", "</style><script>")


def _assert_inert(page):
    for raw in RAW:
        assert raw not in page.text, raw
    # Only the nonce'd theme style and none of the tenant's text inside it.
    for style in page.html.find_all("style"):
        assert "alert" not in style.get_text() and "onerror" not in style.get_text()


def test_hostile_text_through_every_form_value_never_reaches_a_page_unescaped(app, owner):
    form = theme_form(app)
    form["display_name"] = HOSTILE_TEXT[:200]
    for spec in FORM_FIELDS:
        if spec.kind == "text":
            form[spec.name] = HOSTILE_TEXT[: spec.max_length]
        elif spec.kind in ("https_url", "url"):
            form[spec.name] = HOSTILE_URL
    label = form.html.find("input", attrs={
        "aria-label": "Label for 3D Printing (3D Printing Workflow)"})["name"]
    form[label] = HOSTILE_TEXT[:100]
    form[label.replace("label", "description")] = HOSTILE_TEXT
    preview = app.post(BRANDING + "preview", dict(form.submit_fields()), status=200)
    _assert_inert(preview)
    assert "&lt;/style&gt;&lt;script&gt;" in preview.text
    saved = form.submit(status=302).follow()
    _assert_inert(saved)
    _assert_inert(app.get(BRANDING + "preview"))
    tracker = app.post_json("/api/v1/trackers/", {"name": "Vase", "template": "3d-printing"},
                            headers=owner.headers, status=201).json
    page = app.get("/track/" + tracker["tracking_url"].rsplit("/", 1)[-1])
    _assert_inert(page)
    assert "&lt;/style&gt;&lt;script&gt;alert(1)" in page.text
    assert 'href="https://evil.example/&#34;&gt;&lt;script&gt;' in page.text \
        or 'href="https://evil.example/&quot;&gt;&lt;script&gt;' in page.text


@pytest.mark.parametrize("field", ["brand_color", "accent_color", "background_color",
                                   "text_color"])
def test_css_cannot_be_smuggled_through_a_colour(app, owner, field):
    form = theme_form(app)
    form[field] = "#fff;}body{background:url(https://evil.example/x)}"
    page = form.submit(status=400)
    assert "must look like #1a2b3c" in error_beside(page, field)
    preview = app.post(BRANDING + "preview", dict(form.submit_fields()), status=200)
    assert "evil.example" not in preview.text
