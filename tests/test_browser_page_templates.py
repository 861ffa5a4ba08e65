"""The page template editor in a real Chromium: preview in a sandboxed frame, publish,
the customer's page; by keyboard on a phone; axe-core on every state of the editor."""

from contextlib import contextmanager

import pytest
from axe import serious_violations
from conftest import ARTIFACTS
from live_server import serve
from logins import PASSWORD, cheap_hashing, make_user  # noqa: F401
from test_browser import CHROMIUM_ARGS, DESKTOP, PHONE, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)
from test_browser_accessibility import _sideways

from tracee.tenancy.scope import bind_tenant
from tracee.tenancy.service import create_tenant
from tracee.tracking.workflow import Actor, apply_action, create_tracker

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_hashing")]
assert CHROMIUM_ARGS  # launched by test_browser's fixture with these

EDITOR = "/dashboard/acme/settings/page-templates/tracking/"
# A style through the page's nonce, and a script that must not run anywhere.
TEMPLATE = """<!doctype html>
<html lang="en"><head><title>{{ tracker.name }}</title>
<style nonce="{{ style_nonce }}">h1 { color: rgb(11, 110, 79); }</style></head>
<body><h1 id="custom">{{ brand.display_name }}: {{ tracker.headline }}</h1>
<ol>{% for s in tracker.steps %}<li>{{ s.label }}</li>{% endfor %}</ol>
<script>document.getElementById('custom').textContent = 'script ran';</script>
</body></html>"""


@pytest.fixture
def site(database):
    with serve(database) as (url, app):
        registry = app.registry
        session = registry["db.session_factory"]()
        tenant = create_tenant(session, "acme", "Acme Prints", platform_hosts=())
        bind_tenant(session, tenant.id)
        tracker = create_tracker(session, tenant.id, "Order #7 - Green Vase", Actor("cli"),
                                 template="3d-printing")
        apply_action(session, tracker, "3D Printing", "start", Actor("cli"))
        session.commit()
        tenant_id, token = tenant.id, tracker.tracking_token
        session.close()
        make_user(registry, "owner@acme.test", tenant_id, "owner")
        make_user(registry, "viewer@acme.test", tenant_id, "viewer")
        yield url, token


def _log_in(page, url, email="owner@acme.test"):
    page.goto(url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/trackers/")


def test_preview_then_publish_and_the_customer_sees_it(browser, site, database):  # noqa: F811
    url, token = site
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    violations = {}
    try:
        _log_in(page, url)
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Settings", exact=True).click()
        page.get_by_role("main").get_by_role("link", name="Page templates").click()
        violations["overview"] = serious_violations(page)
        page.get_by_role("link", name="Tracking page").click()
        page.wait_for_url("**" + EDITOR)
        violations["editor"] = serious_violations(page)

        source = page.get_by_label("Template source")
        source.fill("<p>\n{% for %}")
        page.get_by_role("button", name="Preview").click()
        error = page.locator("#f-source-error")
        assert "Line 2" in error.inner_text() and "{% for %}" in error.inner_text()
        assert source.get_attribute("aria-invalid") == "true"
        violations["error"] = serious_violations(page)

        page.get_by_label("Template source").fill(TEMPLATE)
        page.get_by_role("button", name="Preview").click()
        frame = page.frame_locator("iframe.template-preview")
        heading = frame.locator("#custom")
        assert heading.inner_text() == "Acme Prints: Post-Processing"  # the sample order
        # The template's own style applies (the nonce), its script does not run.
        assert heading.evaluate("e => getComputedStyle(e).color") == "rgb(11, 110, 79)"
        assert "Quality Check" not in frame.locator("ol").inner_text()
        violations["preview"] = serious_violations(page)
        page.locator("iframe.template-preview").scroll_into_view_if_needed()
        screenshot(page, "page-template-preview", database)
        # A full-page capture leaves the sandboxed frame (its own process) blank.
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        frame_shot = ARTIFACTS / f"page-template-preview-frame-{database.kind}.png"
        page.locator("iframe.template-preview").screenshot(path=str(frame_shot))

        page.get_by_role("button", name="Publish").click()
        assert "customers see this template now" in page.get_by_role("status").inner_text()
        assert "version 1" in page.locator(".in-force").inner_text()
        violations["published"] = serious_violations(page)
        screenshot(page, "page-template-published", database)

        page.goto(f"{url}/track/{token}")
        custom = page.locator("#custom")
        assert custom.inner_text() == "Acme Prints: 3D Printing"  # the real order
        assert custom.evaluate("e => getComputedStyle(e).color") == "rgb(11, 110, 79)"
        assert errors == []
    finally:
        context.close()
    assert {state: v for state, v in violations.items() if v} == {}


@contextmanager
def _owner_on_a_phone(browser, url):  # noqa: F811
    """A phone's page, the owner logged in, at the editor."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        _log_in(page, url)
        page.goto(url + EDITOR)
        yield page
    finally:
        context.close()


def test_the_editor_works_on_a_phone_by_keyboard(browser, site, database):  # noqa: F811
    with _owner_on_a_phone(browser, site[0]) as page:
        source = page.get_by_label("Template source")
        source.focus()
        page.keyboard.press("Control+A")
        page.keyboard.type("<p>{{ tracker.name }} " + "x" * 200 + "</p>")
        page.keyboard.press("Tab")  # the field's error/hint come first; then Preview
        focused = page.evaluate("document.activeElement.textContent")
        assert focused == "Preview", focused
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        frame = page.frame_locator("iframe.template-preview")
        assert frame.locator("p").inner_text().startswith("Order #1042 - Blue Vase")
        assert _sideways(page) == []
        outline = page.get_by_role("button", name="Publish").evaluate(
            "e => { e.focus(); return getComputedStyle(e).outlineStyle; }")
        assert outline != "none", "keyboard focus is not visible"
        assert serious_violations(page) == []
        screenshot(page, "page-template-phone", database)


def test_a_viewer_reads_the_source_and_versions(browser, site, database):  # noqa: F811
    url, _ = site
    with _owner_on_a_phone(browser, url) as page:
        page.get_by_label("Template source").fill("<p>{{ tracker.name }}</p>\n" * 40)
        page.get_by_role("button", name="Publish").click()
        page.wait_for_url("**?done=published")
        page.context.clear_cookies()
        _log_in(page, url, "viewer@acme.test")
        page.goto(url + EDITOR + "?version=1")
        assert page.get_by_role("region", name="Source of version 1").is_visible()
        assert page.get_by_role("button", name="Publish").count() == 0
        assert serious_violations(page) == []
        assert _sideways(page) == []
