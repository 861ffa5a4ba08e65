"""Settings -> Branding in a real headless Chromium: the live preview, an upload, axe."""

import pytest
from axe import serious_violations
from images import png_bytes
from logins import PASSWORD, cheap_hashing  # noqa: F401
from test_browser import DESKTOP, PHONE, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)
from test_browser_dashboard import live_owner as live_owner  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_hashing")]


def _log_in(page, url):
    page.goto(url + "/login")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/acme/trackers/")


def _watch(page) -> list:
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_the_preview_follows_the_form_and_a_logo_upload(browser, live_owner, database, tmp_path):
    url = live_owner
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    errors = _watch(page)
    try:
        _log_in(page, url)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Branding").click()
        page.wait_for_url("**/settings/branding/")
        assert serious_violations(page) == []
        frame = page.frame_locator("iframe[name=preview]")
        assert frame.get_by_text("Sample order").is_visible()

        # Typing a colour moves its swatch and, after a pause, the preview: unsaved.
        page.get_by_label("Brand colour", exact=True).fill("#0f766e")
        assert page.get_by_label("Brand colour: colour picker").input_value() == "#0f766e"
        page.get_by_label("Footer text").fill("Handmade in Leeds")
        frame.get_by_text("Handmade in Leeds").wait_for()
        assert "--brand: #0f766e" in frame.locator("style").first.inner_text()

        # An unreadable text colour: refused beside the field when saving, nothing saved.
        page.get_by_label("Text colour", exact=True).fill("#eeeeee")
        page.get_by_role("button", name="Save branding").first.click()
        error = page.locator("#f-text_color-error")
        assert "WCAG AA needs at least 4.5:1" in error.inner_text()
        assert serious_violations(page) == []
        page.get_by_label("Text colour", exact=True).fill("")
        page.get_by_role("button", name="Save branding").first.click()
        page.get_by_text("Saved.").wait_for()

        logo = tmp_path / "logo.png"
        logo.write_bytes(png_bytes(size=(240, 80)))
        page.get_by_label("Logo file").set_input_files(str(logo))
        page.get_by_role("button", name="Upload logo").click()
        page.wait_for_url("**/settings/branding/?saved=logo#logo")
        src = page.locator("img.current-logo").get_attribute("src")
        assert src.startswith("/assets/") and src.endswith(".png")
        frame.locator(f'img.logo[src="{src}"]').wait_for()
        assert serious_violations(page) == []
        screenshot(page, "dashboard-branding", database)

        preview = context.new_page()
        preview.goto(url + "/dashboard/acme/settings/branding/preview")
        assert serious_violations(preview) == []
        preview.close()
        # The refused save answered 400, as it should; nothing else went wrong.
        assert [e for e in errors if "status of 400" not in e] == []
    finally:
        context.close()


def test_the_branding_page_on_a_phone(browser, live_owner, database):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors = _watch(page)
    try:
        _log_in(page, live_owner)
        page.goto(live_owner + "/dashboard/acme/settings/branding/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # nothing wider than the phone
        page.keyboard.press("Tab")  # keyboard-operable: the skip link comes first
        assert page.evaluate("document.activeElement.className") == "skip-link"
        assert serious_violations(page) == []
        screenshot(page, "dashboard-branding-phone", database)
        assert errors == []
    finally:
        context.close()
