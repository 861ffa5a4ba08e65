"""A question asked on the tracking page, answered in the dashboard, read on
the page: in a real Chromium, by keyboard where a customer would type, with
axe-core on every page of the round."""

import pytest
from axe import serious_violations
from live_server import serve
from logins import PASSWORD, cheap_hashing, make_user  # noqa: F401
from test_browser import CHROMIUM_ARGS, DESKTOP, PHONE, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)
from webtest import TestApp

from tracee.api.keys import issue_key
from tracee.tenancy.service import create_tenant

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the ``browser`` fixture
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_hashing")]
assert CHROMIUM_ARGS  # launched by test_browser's fixture with these
POLL_MS = 10_000


@pytest.fixture
def shop(database):
    with serve(database, **{"tracee.ratelimit.public": "100000/minute"}) as (url, app):
        session = app.registry["db.session_factory"]()
        tenant = create_tenant(session, "acme", "Acme Prints",
                               platform_hosts=app.registry["platform_hosts"])
        key = issue_key(session, tenant.id, "test key").secret
        session.commit()
        tenant_id = tenant.id
        session.close()
        make_user(app.registry, "staff@acme.test", tenant_id, "staff")
        tracker = TestApp(app).post_json(
            "/api/v1/trackers/", {"name": "Order #1234 - Blue Vase", "template": "3d-printing"},
            headers={"X-API-Key": key}, status=201).json
        yield url, tracker


def no_serious_violations(page, where):
    assert serious_violations(page) == [], where


def test_ask_on_the_page_answer_in_the_dashboard_read_on_the_page(browser, shop, database):
    url, tracker = shop
    customer = browser.new_context(**PHONE).new_page()
    errors = []
    customer.on("pageerror", lambda exc: errors.append(str(exc)))
    customer.clock.install()
    customer.goto(tracker["tracking_url"])
    no_serious_violations(customer, "the page with the form")

    # A customer types the question by keyboard; the honeypot is never reached.
    customer.get_by_label("Your name (optional)").fill("Ann")
    customer.keyboard.press("Tab")
    expect(customer.get_by_label("Your email (optional)")).to_be_focused()
    customer.keyboard.type("ann@example.test")
    customer.keyboard.press("Tab")
    expect(customer.get_by_label("Your question", exact=True)).to_be_focused()
    customer.keyboard.type("Can you gift-wrap it? <b>please</b>")
    customer.keyboard.press("Tab")
    expect(customer.get_by_role("button", name="Send question")).to_be_focused()
    customer.keyboard.press("Enter")
    expect(customer.get_by_role("status")).to_contain_text("your question was sent")
    expect(customer.locator(".thread .msg-text")).to_have_text(
        ["Can you gift-wrap it? <b>please</b>"])
    no_serious_violations(customer, "the page after asking")

    # An error is shown beside its field, and the page stays usable.
    customer.get_by_label("Your email (optional)").fill("not an address")
    customer.get_by_label("Your question", exact=True).fill("Another one")
    customer.get_by_role("button", name="Send question").click()
    expect(customer.locator("#ask-email-error")).to_contain_text("Enter an email address")
    no_serious_violations(customer, "the page with an error")

    staff = browser.new_context(**DESKTOP).new_page()
    staff.goto(url + "/login")
    staff.get_by_label("Email").fill("staff@acme.test")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Log in").click()
    staff.wait_for_url("**/dashboard/acme/trackers/")
    staff.get_by_role("navigation", name="Main").get_by_role("link", name="Messages").click()
    expect(staff.locator("tbody tr")).to_have_count(1)
    expect(staff.locator("tbody tr").first).to_contain_text("Unread")
    no_serious_violations(staff, "the inbox")
    staff.get_by_role("link", name="#1234 Order #1234 - Blue Vase").click()
    expect(staff.locator("#conversation .msg-text")).to_have_text(
        ["Can you gift-wrap it? <b>please</b>"])
    no_serious_violations(staff, "the tracker's page with its conversation")
    staff.get_by_label("Your reply").fill("Of course, Ann.")
    staff.get_by_role("button", name="Send reply").click()
    expect(staff.locator("#conversation .msg-text")).to_have_count(2)
    screenshot(staff, "messages-dashboard", database)

    # The customer's page shows the reply by itself, on its next poll.
    customer.clock.run_for(POLL_MS)
    expect(customer.locator(".thread .msg-text")).to_have_text(
        ["Can you gift-wrap it? <b>please</b>", "Of course, Ann."])
    expect(customer.locator(".thread .msg-reply .msg-who")).to_have_text("Acme Prints")
    no_serious_violations(customer, "the page with the reply")
    screenshot(customer, "messages-page", database)
    assert errors == []
