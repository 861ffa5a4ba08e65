"""Themed and templated pages in a real Chromium: what the client's customer sees,
readable (axe-core), with nothing but the tenants' own branding."""

from pathlib import Path

import pytest
from test_browser import (  # noqa: F401  (fixtures)
    DESKTOP,
    act,
    browser,
    create_tracker,
    desktop,
    live,
    open_page,
    screenshot,
)

pytestmark = pytest.mark.browser
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
THEME = {"brand_color": "#7c2d12", "accent_color": "#b45309", "background_color": "#fffbeb",
         "text_color": "#1c1917", "font": "serif", "corner_radius": 4,
         "back_link_label": "Corner Bakery", "back_link_url": "https://bakery.example/",
         "support_email": "hello@bakery.example", "footer_text": "Baked fresh in Leeds",
         "steps": [{"template": "3d-printing", "step": "3D Printing", "label": "In the oven",
                    "description": "Your topper is being printed."}]}
TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ tracker.name }} · {{ brand.display_name }}</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="{{ urls.stylesheet }}">
<style nonce="{{ style_nonce }}">body { background: {{ brand.background_color }}; }</style>
</head><body><main class="card"><h1 class="custom">{{ tracker.name }}</h1>
<p>{{ tracker.headline }}</p><ol>{% for s in tracker.steps %}<li>{{ s.label }}:
{{ s.status_label }}</li>{% endfor %}</ol></main></body></html>"""


def _serious(page) -> list:
    page.evaluate(AXE.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], [n["target"] for n in v["nodes"]][:4])
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def test_an_agency_brands_a_client_and_publishes_its_template(live, make_tenant, open_page,  # noqa: F811
                                                              database):
    agency = make_tenant("studio", "Studio Agency")
    live.api.post_json("/api/v1/clients/", {"slug": "bakery", "name": "Corner Bakery"},
                       headers=agency.headers, status=201)
    acting = {**agency.headers, "Tracee-Tenant": "bakery"}
    live.api.put_json("/api/v1/branding/", THEME, headers=acting)

    class Client:  # the agency's key, acting for the client
        headers = acting

    tracker = create_tracker(live, Client, "Order #12 - Cake Topper")
    act(live, Client, tracker, "3D Printing", "start")
    watched = open_page()
    page = watched.page

    page.goto(tracker["tracking_url"])
    assert page.locator(".steps .step-name").first.inner_text() == "Preparing/Slicing"
    assert "In the oven" in page.locator(".headline").inner_text()
    assert page.get_by_role("link", name="Back to Corner Bakery").get_attribute("href") \
        == "https://bakery.example/"
    assert "Tracee" not in page.content()
    assert _serious(page) == []
    screenshot(page, "themed-client-page", database)

    live.api.put_json("/api/v1/branding/templates/tracking", {"source": TEMPLATE},
                      headers=agency.headers)  # the agency's: every client wears it
    page.goto(tracker["tracking_url"])
    assert page.locator("h1.custom").inner_text() == "Order #12 - Cake Topper"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") \
        == "rgb(255, 251, 235)"  # its nonce'd style applied under the page's CSP
    assert watched.errors == []
    assert _serious(page) == []
    screenshot(page, "templated-client-page", database)
