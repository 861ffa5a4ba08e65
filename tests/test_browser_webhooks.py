"""Settings -> Webhooks in a real headless Chromium: add an endpoint to a local
receiver, copy its secret, send a test event, read the log; axe on every page."""

import pytest
from axe import serious_violations
from live_server import serve
from logins import PASSWORD, cheap_hashing, make_user  # noqa: F401
from standardwebhooks import Webhook
from test_browser import DESKTOP, PHONE, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)
from test_webhooks_delivery import FAST, until, worker  # noqa: F401  (worker: a fixture)
from webhook_receiver import receiver

from tracee.tenancy.service import create_tenant

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_hashing")]


@pytest.fixture
def live(database):
    with serve(database, **FAST) as (url, app):
        session = app.registry["db.session_factory"]()
        tenant = create_tenant(session, "acme", "Acme Prints",
                               platform_hosts=app.registry["platform_hosts"])
        session.commit()
        tenant_id = tenant.id
        session.close()
        make_user(app.registry, "owner@acme.test", tenant_id, "owner")
        yield url


def log_in(page, url):
    page.goto(url + "/login")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/acme/trackers/")


def accessible(page, what: str):
    found = serious_violations(page)
    assert found == [], (what, found)


def test_add_an_endpoint_send_a_test_event_and_read_the_log(browser, live, worker, database):
    context = browser.new_context(**DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live)
    errors = []
    page = context.new_page()
    # The refused form is itself a 400, which Chromium reports; nothing else may fail.
    page.on("console", lambda m: m.type == "error" and "status of 400" not in m.text
            and errors.append(m.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        with receiver() as (hook_url, rec):
            log_in(page, live)
            nav = page.get_by_role("navigation", name="Main")
            nav.get_by_role("link", name="Settings", exact=True).click()
            page.wait_for_url("**/settings/")
            page.get_by_role("main").get_by_role("link", name="Webhooks").click()
            page.wait_for_url("**/settings/webhooks/")
            accessible(page, "empty list")
            page.get_by_role("link", name="Add endpoint").click()
            accessible(page, "new form")
            page.get_by_label("URL").fill("ftp://nowhere")
            page.get_by_label("tracker.created").uncheck()
            page.get_by_role("button", name="Add endpoint").click()
            assert "must be an http(s) URL" in page.locator("#f-url-error").inner_text()
            accessible(page, "form with errors")
            page.get_by_label("URL").fill(hook_url + "orders")
            page.get_by_label("Description").fill("Warehouse")
            page.get_by_label("Description").press("Enter")  # Enter submits
            secret = page.locator("#new-secret").inner_text().strip()
            assert secret.startswith("whsec_")
            page.get_by_role("button", name="Copy secret").click()
            assert page.evaluate("navigator.clipboard.readText()") == secret
            row = page.get_by_role("row").nth(1).inner_text()
            assert "tracker.status_changed, tracker.completed" in row and "None yet" in row
            accessible(page, "list with the new secret")
            screenshot(page, "dashboard-webhook-secret", database)

            page.get_by_role("link", name=f"Edit {hook_url}orders").click()
            accessible(page, "edit page")
            page.get_by_role("button", name="Send test event").click()
            page.wait_for_url("**/deliveries?done=test")
            with worker():
                until(lambda: len(rec.received) == 1)
            page.reload()
            first = page.get_by_role("row").nth(1).inner_text()
            assert "webhook.test" in first and "200" in first
            accessible(page, "delivery log")
            page.get_by_role("button", name="Retry now: webhook.test").first.click()
            page.wait_for_url("**/deliveries?done=retry")
            with worker():
                until(lambda: len(rec.received) == 2)
            assert rec.received[0].id == rec.received[1].id  # the same event, again
            assert Webhook(secret).verify(rec.received[1].body, rec.received[1].headers)
            page.get_by_role("link", name="Endpoint settings").click()
            page.get_by_role("link", name="Delete this endpoint").click()
            accessible(page, "delete confirmation")
            page.get_by_role("button", name="Delete endpoint").click()
            assert page.get_by_text("Endpoint deleted.").is_visible()
        assert errors == []
    finally:
        context.close()


def test_the_log_reads_on_a_phone(browser, live, database):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        log_in(page, live)
        page.goto(live + "/dashboard/acme/settings/webhooks/new")
        page.get_by_label("URL").fill("https://hooks.example.com/" + "long-path/" * 20)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.name") == "events"  # by keyboard, in order
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the form scrolls sideways on a phone ({width}px)"
        accessible(page, "new form on a phone")
    finally:
        context.close()
