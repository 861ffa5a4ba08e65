"""The dashboard in a real headless Chromium: log in, generate a key, use it.

The seed's own path: "Log into your Tracee dashboard and navigate to
Settings -> API Keys. Generate a new key and copy it securely", then the
seed's curl call with that key.
"""

import re

import pytest
import requests
from live_server import serve
from logins import PASSWORD, cheap_hashing, make_user  # noqa: F401
from test_browser import CHROMIUM_ARGS, DESKTOP, PHONE, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)
from test_signup import smtp as smtp  # noqa: F401  (fixture)

from tracee.tenancy.service import create_tenant

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_hashing")]
assert CHROMIUM_ARGS  # launched by test_browser's fixture with these


@pytest.fixture
def live_owner(database):
    with serve(database) as (url, app):
        session = app.registry["db.session_factory"]()
        tenant = create_tenant(session, "acme", "Acme Prints",
                               platform_hosts=app.registry["platform_hosts"])
        session.commit()
        tenant_id = tenant.id
        session.close()
        make_user(app.registry, "owner@acme.test", tenant_id, "owner")
        yield url


def test_log_in_generate_a_key_and_use_it(browser, live_owner, database):
    url = live_owner
    context = browser.new_context(**DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    errors = []
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url + "/login")
        page.get_by_label("Email").fill("owner@acme.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard/acme/trackers/")
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Settings", exact=True).click()
        page.wait_for_url("**/settings/")
        nav.get_by_role("link", name="API Keys").click()
        page.get_by_role("link", name="Generate New Key").click()
        name = page.get_by_label("Name")
        name.fill("Production Server")
        name.press("Enter")  # Enter submits
        secret = page.locator("#new-key").inner_text().strip()
        assert secret.startswith("tk_live_") and len(secret) == 46
        assert page.get_by_text("it won't be shown again!").is_visible()
        copy = page.get_by_role("button", name="Copy key")
        copy.click()  # shown only with JavaScript, which the CSP lets run from our origin
        assert page.evaluate("navigator.clipboard.readText()") == secret
        assert page.locator("button.copy").inner_text() == "Copied"
        screenshot(page, "dashboard-new-key", database)

        created = requests.post(
            url + "/api/v1/trackers/", headers={"X-API-Key": secret},
            json={"name": "Order #5678 - Custom Chess Set", "template": "3d-printing"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        page.goto(page.url)  # a plain reload of the list never shows the key again
        assert secret not in page.content()

        # the tracker appears under Trackers and moves on from its page
        nav.get_by_role("link", name="Trackers").click()
        page.get_by_role("link", name="Order #5678 - Custom Chess Set").click()
        page.get_by_role("button", name="Start 3D Printing").click()
        page.wait_for_load_state()
        assert "Started 3D Printing · by owner@acme.test" in page.locator(".history").inner_text()
        page.goto(created.json()["tracking_url"])
        assert "3D Printing" in page.locator(".step-in_progress").inner_text()
        screenshot(page, "dashboard-tracking-page", database)
        assert errors == []
    finally:
        context.close()


def test_the_dashboard_works_on_a_phone_and_by_keyboard(browser, live_owner, database):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        page.goto(live_owner + "/login")
        page.keyboard.press("Tab")  # the skip link, then the fields, by keyboard alone
        page.keyboard.press("Tab")
        page.keyboard.type("owner@acme.test")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/dashboard/acme/trackers/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        link = page.get_by_role("link", name="API Keys")
        link.focus()
        outline = link.evaluate("e => getComputedStyle(e).outlineStyle")
        assert outline != "none", "keyboard focus is not visible"
        screenshot(page, "dashboard-phone", database)
    finally:
        context.close()


def test_a_business_signs_up_confirms_and_runs_an_order(browser, database, smtp):
    """Sign up -> confirm from the mail -> Generate New Key -> the seed's call ->
    the tracker under Trackers -> "Start 3D Printing" -> the tracking page shows it."""
    inbox, port = smtp
    inbox.messages.clear()
    settings = {"tracee.signup": "open", "tracee.mail.smtp_url": f"smtp://127.0.0.1:{port}"}
    with serve(database, **settings) as (url, _app):
        context = browser.new_context(**DESKTOP)
        page = context.new_page()
        try:
            page.goto(url + "/login")
            page.get_by_role("link", name="Sign up").click()
            page.get_by_label("Business name").fill("Ann's 3D Prints")
            page.get_by_label("Email").fill("ann@example.test")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign up").click()
            page.wait_for_url("**/dashboard/anns-3d-prints/trackers/")

            (message,) = inbox.messages
            text = message.get_body(("plain",)).get_content()
            page.goto(re.search(r"(http://\S+/signup/confirm/\S+)", text).group(1))
            page.get_by_role("button", name="Confirm my email").click()
            assert page.get_by_role("heading", name="Email confirmed").is_visible()

            page.goto(url + "/dashboard/")
            page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="API Keys").click()
            page.get_by_role("link", name="Generate New Key").click()
            page.get_by_label("Name").fill("Production Server")
            page.get_by_label("Name").press("Enter")
            secret = page.locator("#new-key").inner_text().strip()
            created = requests.post(
                url + "/api/v1/trackers/", headers={"X-API-Key": secret},
                json={"name": "Order #5678 - Custom Chess Set", "template": "3d-printing"},
                timeout=10,
            )
            assert created.status_code == 201, created.text

            page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Trackers").click()
            page.get_by_role("link", name="Order #5678 - Custom Chess Set").click()
            page.get_by_role("button", name="Start 3D Printing").click()
            page.wait_for_load_state()
            page.goto(created.json()["tracking_url"])
            assert "3D Printing" in page.locator(".step-in_progress").inner_text()
            screenshot(page, "signup-to-tracking-page", database)
        finally:
            context.close()
