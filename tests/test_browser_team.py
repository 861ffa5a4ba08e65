"""Inviting someone in a real headless Chromium: the owner sends the invitation
from Settings -> Team, the new person follows the mailed link, chooses a
password and lands on the dashboard."""

import re

import pytest
from live_server import serve
from logins import PASSWORD, cheap_hashing, make_user  # noqa: F401
from test_browser import DESKTOP, PHONE, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)
from test_signup import smtp as smtp  # noqa: F401  (fixture)

from tracee.tenancy.service import create_tenant

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_hashing")]


def test_invite_accept_from_the_mail_and_see_the_dashboard(browser, database, smtp):  # noqa: F811
    inbox, port = smtp
    inbox.messages.clear()
    settings = {"tracee.signup": "invite", "tracee.mail.smtp_url": f"smtp://127.0.0.1:{port}"}
    with serve(database, **settings) as (url, app):
        session = app.registry["db.session_factory"]()
        tenant = create_tenant(session, "acme", "Acme Prints",
                               platform_hosts=app.registry["platform_hosts"])
        session.commit()
        make_user(app.registry, "owner@acme.test", tenant.id, "owner")
        session.close()
        owner = browser.new_context(**DESKTOP)
        newcomer = browser.new_context(**PHONE)
        try:
            page = owner.new_page()
            page.goto(url + "/login")
            page.get_by_label("Email").fill("owner@acme.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/trackers/")
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
            page.get_by_label("Email").fill("sam@example.test")
            page.get_by_label("Role", exact=True).select_option("staff")
            page.get_by_role("button", name="Send invitation").click()
            assert page.get_by_role("status").inner_text() == "Invitation sent."
            assert page.get_by_role("cell", name="sam@example.test", exact=True).is_visible()
            screenshot(page, "team-invited", database)

            (message,) = inbox.messages
            text = message.get_body(("plain",)).get_content()
            link = re.search(r"(http://\S+/invitations/acme/\S+)", text).group(1)
            joining = newcomer.new_page()
            joining.goto(link)
            assert joining.get_by_role("heading", name="Join Acme Prints").is_visible()
            joining.get_by_label("Password").fill("a brand new secret")
            joining.get_by_label("Password").press("Enter")
            joining.wait_for_url("**/dashboard/acme/trackers/")
            assert joining.get_by_role("heading", name="Trackers").is_visible()
            assert "sam@example.test" in joining.locator(".user-menu summary").inner_text()
            screenshot(joining, "team-newcomer-dashboard", database)

            page.reload()
            assert page.get_by_role("cell", name="sam@example.test", exact=True).count() == 1
            assert page.get_by_text("No invitations are waiting.").is_visible()
        finally:
            owner.close()
            newcomer.close()
