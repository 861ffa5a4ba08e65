"""Email updates in a real headless Chromium, with mail through a real SMTP server:
subscribe on the page (with and without JavaScript), confirm from the mail, get
news, unsubscribe; axe-core on every page on the way."""

import re

import pytest
import requests
from axe import serious_violations
from conftest import make_settings
from live_server import serve
from test_browser import CHROMIUM_ARGS, PHONE, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)
from test_customer_mail import mail_settings
from test_customer_mail import smtp as smtp  # noqa: F401  (fixture)

from tracee.api.keys import issue_key
from tracee.tenancy.service import create_tenant
from tracee.worker import Worker

pytestmark = pytest.mark.browser
assert CHROMIUM_ARGS  # launched by test_browser's fixture with these


@pytest.fixture
def live(database, smtp):
    smtp[0].messages.clear()
    settings = mail_settings(smtp)
    with serve(database, **settings) as (url, app):
        session = app.registry["db.session_factory"]()
        tenant = create_tenant(session, "acme", "Acme Prints",
                               platform_hosts=app.registry["platform_hosts"])
        key = issue_key(session, tenant.id, "shop").secret
        session.commit()
        session.close()
        worker = Worker(make_settings(database, **{**settings, "tracee.public_url": url}))
        yield url, key, worker, smtp[0]
        worker.engine.dispose()


def mailed_link(inbox, kind: str) -> str:
    text = inbox.messages[-1].get_body(("plain",)).get_content()
    return re.search(rf"(http://\S+/{kind}/\S+)", text).group(1)


def test_subscribe_confirm_news_unsubscribe_on_a_phone(browser, live, database):
    url, key, worker, inbox = live
    api = {"X-API-Key": key}
    tracker = requests.post(f"{url}/api/v1/trackers/", headers=api, timeout=10,
                            json={"name": "Order #77 - Lamp", "template": "3d-printing"}).json()
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(tracker["tracking_url"])
        field = page.get_by_label("Your email address")
        assert serious_violations(page) == []
        field.fill("not an address")
        field.press("Enter")  # the keyboard alone
        page.wait_for_selector("#subscribe-error")
        assert "name@example.com" in page.locator("#subscribe-error").inner_text()
        assert serious_violations(page) == []
        screenshot(page, "customer-mail-error", database)
        page.get_by_label("Your email address").fill("ann@example.test")
        page.get_by_role("button", name="Email me updates").click()
        page.wait_for_url("**/subscribed")
        assert page.get_by_role("heading", name="Check your inbox").is_visible()
        assert serious_violations(page) == []

        worker.send_due_customer_mail()
        confirm = mailed_link(inbox, "confirm")
        page.goto(confirm)
        assert serious_violations(page) == []
        page.get_by_role("button", name="Yes, email me updates").click()
        assert page.get_by_role("heading", name="You will get email updates").is_visible()
        assert serious_violations(page) == []
        screenshot(page, "customer-mail-confirmed", database)

        requests.post(f"{url}/api/v1/trackers/{tracker['id']}/status/", headers=api,
                      json={"process": "3D Printing", "action": "start"},
                      timeout=10).raise_for_status()
        inbox.messages.clear()
        worker.send_due_customer_mail()
        assert [m["To"] for m in inbox.messages] == ["ann@example.test"]
        page.goto(mailed_link(inbox, "unsubscribe"))
        assert "ann@example.test" in page.locator("main").inner_text()
        assert serious_violations(page) == []
        page.get_by_role("button", name="Unsubscribe").click()
        assert page.get_by_role("heading", name="You are unsubscribed").is_visible()
        assert serious_violations(page) == []
        page.goto(confirm)  # a link that no longer works
        assert page.get_by_role("heading", name="This link no longer works").is_visible()
        assert serious_violations(page) == []
        assert errors == []
    finally:
        context.close()


def test_the_form_works_without_javascript(browser, live):
    url, key, worker, inbox = live
    tracker = requests.post(f"{url}/api/v1/trackers/", headers={"X-API-Key": key}, timeout=10,
                            json={"name": "Order #78 - Vase"}).json()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(tracker["tracking_url"])
        assert not page.locator("#subscribe-website").is_visible()  # the bots' field
        page.get_by_label("Your email address").fill("bob@example.test")
        page.get_by_role("button", name="Email me updates").click()
        page.wait_for_url("**/subscribed")
        assert page.get_by_role("heading", name="Check your inbox").is_visible()
    finally:
        context.close()
    worker.send_due_customer_mail()
    assert [m["To"] for m in inbox.messages] == ["bob@example.test"]
