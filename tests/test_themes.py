"""Themes: validated per field, inherited client -> agency -> platform, safe in CSS and HTML."""

import re

import pytest
from conftest import make_app
from webtest import TestApp

from tracee.branding.acquisition import Brand
from tracee.branding.theme import FIELDS, PLATFORM

# A valid value for every field, unlike the platform's.
VALUES = {
    "brand_color": "#0f766e",
    "accent_color": "#b45309",
    "background_color": "#fffbeb",
    "text_color": "#111111",
    "font": "serif",
    "corner_radius": 4,
    "logo_url": "https://agency.example/logo.svg",
    "favicon_url": "https://agency.example/favicon.png",
    "back_link_label": "Blue Vase",
    "back_link_url": "https://bluevase.example/",
    "support_email": "help@bluevase.example",
    "support_phone": "+44 20 7946 0000",
    "support_url": "http://help.bluevase.example/orders",
    "footer_text": "Handmade in Cornwall",
    "steps": [{"template": "3d-printing", "step": "3D Printing", "label": "Shaping your vase",
               "description": "Printed layer by layer.", "labels": {"de": "Ihre Vase entsteht"}}],
    "language": "en",  # the page's words stay the ones this file looks for
    "default_language": "fr",
    "time_zone": "Europe/Berlin",
}
OTHER = {**VALUES, "brand_color": "#1d4ed8", "accent_color": "#7c3aed",
         "background_color": "#ffffff", "text_color": "#000000", "font": "monospace",
         "corner_radius": 0, "logo_url": "https://client.example/l.png",
         "favicon_url": "https://client.example/f.png", "back_link_label": "Client",
         "back_link_url": "https://client.example/", "support_email": "c@client.example",
         "support_phone": "0123 456", "support_url": "https://client.example/help",
         "footer_text": "Client footer",
         "steps": [{"template": "3d-printing", "step": "Packaging", "label": "Wrapping",
                    "description": None}],
         "language": "nl", "default_language": "it", "time_zone": "America/New_York"}
assert set(VALUES) == {f.name for f in FIELDS} == set(OTHER)


@pytest.fixture
def family(make_tenant):
    agency = make_tenant("agency", "Agency")
    client = make_tenant("client", "Client Shop", parent="agency")
    return agency, client


def branding(app, handle, **kw):
    return app.get("/api/v1/branding/", headers=handle.headers, **kw).json


def put(app, handle, body, status=200):
    return app.put_json("/api/v1/branding/", body, headers=handle.headers, status=status).json


def test_nothing_set_is_the_platforms_theme(app, tenant):
    theme = branding(app, tenant)
    assert theme["own"] == {f.name: None for f in FIELDS}
    assert theme["effective"] == PLATFORM


def test_a_partial_update_changes_only_what_it_names_and_null_clears(app, tenant):
    put(app, tenant, {"brand_color": "#0F766E", "font": "serif"})
    put(app, tenant, {"footer_text": "  Hello  "})
    own = branding(app, tenant)["own"]
    assert (own["brand_color"], own["font"], own["footer_text"]) == ("#0f766e", "serif", "Hello")
    put(app, tenant, {"font": None})
    theme = branding(app, tenant)
    assert theme["own"]["font"] is None and theme["effective"]["font"] == PLATFORM["font"]
    assert theme["own"]["brand_color"] == "#0f766e"


@pytest.mark.parametrize("name", list(VALUES))
def test_every_field_is_inherited_and_overridden_on_its_own(app, family, name):
    agency, client = family
    put(app, agency, VALUES)
    assert branding(app, client)["effective"][name] == VALUES[name]
    assert branding(app, client)["own"][name] is None
    put(app, client, {name: OTHER[name]})
    effective = branding(app, client)["effective"]
    expected = OTHER[name] if name != "steps" else VALUES["steps"] + OTHER["steps"]
    assert effective[name] == expected
    others = [n for n in VALUES if n != name and n != "steps"]
    assert all(effective[n] == VALUES[n] for n in others)
    put(app, client, {name: None})
    assert branding(app, client)["effective"][name] == VALUES[name]
    # The agency's own view is untouched by its client.
    assert branding(app, agency)["own"] == VALUES


@pytest.mark.parametrize(("body", "field"), [
    ({"brand_color": "red"}, "brand_color"),
    ({"brand_color": "#12345"}, "brand_color"),
    ({"accent_color": "#1234567"}, "accent_color"),
    ({"text_color": "#00000g"}, "text_color"),
    ({"brand_color": 123456}, "brand_color"),
    ({"font": "Comic Sans"}, "font"),
    ({"corner_radius": 25}, "corner_radius"),
    ({"corner_radius": "4"}, "corner_radius"),
    ({"corner_radius": True}, "corner_radius"),
    ({"logo_url": "http://insecure.example/l.png"}, "logo_url"),
    ({"logo_url": "javascript:alert(1)"}, "logo_url"),
    ({"favicon_url": "data:image/png;base64,AAAA"}, "favicon_url"),
    ({"back_link_url": "https://a b.example/"}, "back_link_url"),
    ({"support_url": "ftp://files.example/"}, "support_url"),
    ({"support_url": "https://" + "a" * 2000 + ".example"}, "support_url"),
    ({"support_email": "not an address"}, "support_email"),
    ({"support_phone": "call me"}, "support_phone"),
    ({"footer_text": "x" * 501}, "footer_text"),
    ({"footer_text": "zero\u200bwidth"}, "footer_text"),
    ({"back_link_label": "a\x00b"}, "back_link_label"),
    ({"steps": [{"template": "x"}]}, "steps"),
    ({"steps": "nope"}, "steps"),
    ({"steps": [{"template": "x", "step": "y", "label": "z" * 101}]}, "steps"),
])
def test_values_are_refused_by_kind_naming_the_field(app, tenant, body, field):
    refused = put(app, tenant, body, status=400)
    assert refused["errors"][0]["name"] == field
    assert branding(app, tenant)["own"] == {f.name: None for f in FIELDS}


@pytest.mark.parametrize(("body", "field"), [
    ({"text_color": "#777777", "background_color": "#ffffff"}, "text_color"),  # 4.48:1
    ({"text_color": "#ffffff"}, "text_color"),  # on the platform's pale background
    ({"brand_color": "#777777", "text_color": "#333333", "background_color": "#ffffff"},
     "brand_color"),  # neither white nor the ink reaches 4.5:1 on it
])
def test_unreadable_text_is_refused_with_its_contrast(app, tenant, body, field):
    refused = put(app, tenant, body, status=400)["errors"][0]
    assert refused["name"] == field and "4.5:1" in refused["description"]


def test_contrast_is_checked_against_the_inherited_values(app, family):
    agency, client = family
    put(app, agency, {"background_color": "#111111", "text_color": "#eeeeee"})
    put(app, client, {"text_color": "#222222"}, status=400)
    put(app, client, {"text_color": "#ffffff"})


# --- the pages ------------------------------------------------------------------


def _page(app, handle, body=None):
    tracker = app.post_json("/api/v1/trackers/", body or {"name": "Vase #1",
                                                           "template": "3d-printing"},
                            headers=handle.headers).json
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": "3D Printing", "action": "start"}, headers=handle.headers)
    return f"/track/{tracker['tracking_token']}", f"/embed/{tracker['tracking_token']}/"


def _style(html: str) -> str:
    return re.search(r"<style nonce=\"[^\"]+\">(.*?)</style>", html, re.S).group(1)


def test_a_clients_page_wears_the_inherited_theme(app, family):
    agency, client = family
    put(app, agency, VALUES)
    put(app, client, {"brand_color": "#1d4ed8"})
    page, embed = _page(app, client)
    html = app.get(page).text
    style = _style(html)
    assert "--brand: #1d4ed8" in style and "--accent: #b45309" in style
    assert "--bg: #fffbeb" in style and "--ink: #111111" in style and "--radius: 4px" in style
    assert "Charter" in style  # the serif stack
    for text in ('src="https://agency.example/logo.svg"', 'href="https://agency.example/favicon.png"',
                 'href="https://bluevase.example/">Back to Blue Vase',
                 "mailto:help@bluevase.example", "tel:+442079460000",
                 "http://help.bluevase.example/orders", "Handmade in Cornwall",
                 "Shaping your vase", "Printed layer by layer."):
        assert text in html, text
    assert ">3D Printing<" not in html  # the step's customer-facing label replaces it
    embedded = app.get(embed).text
    assert "--brand: #1d4ed8" in _style(embedded) and "Shaping your vase" in embedded


def test_no_vendor_branding_unless_the_platform_asks(app, tenant, database):
    page, embed = _page(app, tenant)
    for path in (page, embed):
        html = app.get(path).text
        assert "Tracee" not in html and "favicon.svg" not in html, path
    credited = TestApp(make_app(database, **{"tracee.branding.vendor_credit": "true"}))
    html = credited.get(page).text
    assert "powered by Tracee" in html and "favicon.svg" in html


HOSTILE_TEXT = [
    "</style><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; } body { background: url(https://evil.example/x) } .x { '",
    "{{ 7*7 }}",
]
HOSTILE_URLS = [
    'https://evil.example/"><script>alert(1)</script>',
    "https://evil.example/</style><script>alert(1)</script>",
    "https://evil.example/'onmouseover='alert(1)",
]


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_hostile_text_in_every_text_field_stays_text(app, tenant, hostile):
    text_fields = [f.name for f in FIELDS if f.kind == "text"]
    put(app, tenant, {name: hostile[:60] for name in text_fields} | {
        "steps": [{"template": "3d-printing", "step": "3D Printing", "label": hostile,
                   "description": hostile}]})
    page, embed = _page(app, tenant)
    for path in (page, embed):
        html = app.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "evil.example" not in _style(html) and "</style><script>" not in html
        if "{{" in hostile:
            assert "{{ 7*7 }}" in html  # printed, never evaluated


@pytest.mark.parametrize("hostile", HOSTILE_URLS)
@pytest.mark.parametrize("name", [f.name for f in FIELDS if f.kind.endswith("url")])
def test_hostile_urls_are_refused_or_escaped(app, tenant, name, hostile):
    response = app.put_json("/api/v1/branding/", {name: hostile}, headers=tenant.headers,
                            expect_errors=True)
    page, _ = _page(app, tenant)
    html = app.get(page).text
    assert "<script>alert" not in html and "'onmouseover='" not in html
    if response.status_int == 200:
        assert "&#34;&gt;&lt;script&gt;" in html or "&lt;/style&gt;" in html or "&#39;" in html
    assert "evil.example" not in _style(html)


@pytest.mark.parametrize("hostile", ["red; } body { display: none } :root { --x: 0",
                                     "#fff</style><script>alert(1)</script>",
                                     "expression(alert(1))", "#12345g"])
def test_a_colour_that_slipped_into_storage_never_reaches_the_style(hostile):
    brand = Brand("Shop", {**PLATFORM, "brand_color": hostile, "accent_color": hostile,
                           "background_color": hostile, "text_color": hostile,
                           "corner_radius": "1px; } x {", "font": "evil"})
    css = str(brand.css)
    assert hostile not in css and "}" not in css and "<" not in css
    assert f"--brand: {PLATFORM['brand_color']}" in css


def test_every_worker_sees_a_change_on_its_next_page(app, family, database):
    agency, client = family
    page, _ = _page(app, client)
    other_worker = TestApp(make_app(database))
    assert "Handmade" not in other_worker.get(page).text  # cached there now
    put(app, agency, {"footer_text": "Handmade"})
    assert "Handmade" in other_worker.get(page).text
    put(app, client, {"footer_text": "Own words"})
    html = other_worker.get(page).text
    assert "Own words" in html and "Handmade" not in html


def test_step_names_per_template_and_language_first_entry_wins():
    from tracee.views.tracking import public_steps

    brand = Brand("Acme", {"steps": [
        {"template": "t", "step": "Make", "label": "Shaping", "labels": {"de": "Formen"},
         "description": "Slowly."},
        {"template": "t", "step": "Make", "label": "Ignored"},
        {"template": "u", "step": "Make", "label": "Other template"},
        {"template": "t", "step": "Ship", "descriptions": {"fr": "Par la poste."}},
    ]})
    assert brand.step_names("t", "en") == {"Make": ("Shaping", "Slowly."), "Ship": (None, None)}
    assert brand.step_names("t", "de")["Make"] == ("Formen", "Slowly.")
    assert brand.step_names("t", "fr")["Ship"] == (None, "Par la poste.")
    assert brand.step_names("t", "de") is brand.step_names("t", "de")  # worked out once

    class Step:
        def __init__(self, name, status="pending", visible=True):
            self.name, self.status, self.visible = name, status, visible
            self.started_at = self.completed_at = None

    steps = [Step("Make", "in_progress"), Step("Hidden", visible=False), Step("Ship"), Step("Pack")]
    shown = public_steps(brand, "t", steps, "de")
    assert [(s.name, s.label, s.description) for s in shown] == [
        ("Make", "Formen", "Slowly."), ("Ship", "Ship", None), ("Pack", "Pack", None)]
    assert shown[0].status_label != shown[1].status_label
    assert [s.label for s in public_steps(brand, "u", steps, "en")] == [
        "Other template", "Ship", "Pack"]
