"""The tracking page and embed keep themselves current, in a real Chromium.

The page's own timers run on Playwright's clock, so the test moves time on
instead of waiting the real poll interval; the requests are real.
"""

import pytest
from test_browser import act, create_tracker
from test_browser import browser as browser  # noqa: F401  (fixture)
from test_browser import desktop as desktop  # noqa: F401  (fixture)
from test_browser import live as live  # noqa: F401  (fixture)
from test_browser import open_page as open_page  # noqa: F401  (fixture)

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the ``browser`` fixture
    expect = None

pytestmark = pytest.mark.browser

POLL_MS = 10_000  # live.js's default; the issue promises an update within 15 s
# Lets a test hide and show the tab: headless Chromium is always "visible".
VISIBILITY = """
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get() { return window.__hidden ? "hidden" : "visible"; },
});
window.__setHidden = (hidden) => {
  window.__hidden = hidden;
  document.dispatchEvent(new Event("visibilitychange"));
};
"""


@pytest.fixture
def watched_live(open_page):
    watched = open_page()
    page = watched.page
    page.clock.install()
    page.add_init_script(VISIBILITY)
    polls = []
    page.on("request", lambda r: "/progress.json" in r.url and polls.append(r.url))
    return watched, polls


@pytest.mark.parametrize("kind", ["page", "embed"])
def test_the_page_updates_itself_and_rests_while_hidden(live, tenant, watched_live, kind):
    watched, polls = watched_live
    page = watched.page
    tracker = create_tracker(live, tenant, "Order #77 - Lamp")
    act(live, tenant, tracker, "Preparing/Slicing", "start")
    url = tracker["tracking_url"] if kind == "page" else tracker["tracking_url"].replace(
        "/track/", "/embed/") + "/"
    page.goto(url)
    headline = page.locator(".headline")
    expect(headline).to_have_text("Preparing/Slicing")
    if kind == "page":
        expect(page.locator(".live-note")).to_have_text("This page updates itself.")

    # Nothing changed: the poll is a 304 and the page stays as it is.
    page.clock.run_for(POLL_MS)
    page.wait_for_timeout(200)
    assert len(polls) == 1
    expect(headline).to_have_text("Preparing/Slicing")

    act(live, tenant, tracker, "3D Printing", "start")
    page.clock.run_for(POLL_MS)
    expect(headline).to_have_text("3D Printing")
    expect(page.locator(".step-completed .step-name")).to_have_text(["Preparing/Slicing"])
    expect(page.locator("[aria-current=step] .step-name")).to_have_text("3D Printing")
    expect(page.locator(".meter-label")).to_have_text("1 of 5 steps done")
    assert page.locator("text=Quality Check").count() == 0
    asked = len(polls)

    # Hidden: no request at all, however long; shown again: asks at once.
    page.evaluate("window.__setHidden(true)")
    act(live, tenant, tracker, "Post-Processing", "start")
    page.clock.run_for(POLL_MS * 6)
    page.wait_for_timeout(300)
    assert len(polls) == asked
    expect(headline).to_have_text("3D Printing")
    page.evaluate("window.__setHidden(false)")
    expect(headline).to_have_text("Post-Processing")
    assert len(polls) == asked + 1
    assert watched.errors == [] and watched.dialogs == []


def test_without_javascript_the_page_says_to_reload(live, tenant, browser):  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(create_tracker(live, tenant, "Order #78")["tracking_url"])
        expect(page.locator(".live-note")).to_have_text("Reload this page to see new progress.")
    finally:
        context.close()


def test_a_date_that_can_no_longer_be_kept_turns_into_plain_words(live, tenant, watched_live):
    watched, polls = watched_live
    page = watched.page
    live.api.post_json("/api/v1/templates/", {"slug": "hour", "name": "An hour", "steps": [
        {"name": "Glazing", "expected_minutes": 60}, {"name": "Firing", "expected_minutes": 30},
    ]}, headers=tenant.headers, status=201)
    tracker = create_tracker(live, tenant, "Order #79 - Bowl", template="hour")
    act(live, tenant, tracker, "Glazing", "start")
    page.goto(tracker["tracking_url"])
    estimate = page.locator("[data-estimate]")
    expect(estimate).to_contain_text("Estimated ready:")
    # An hour on, nothing has moved: no event, the poll is a 304, yet the
    # promise has lapsed, and the page says so rather than keep the date.
    page.clock.fast_forward("01:01:00")
    page.clock.run_for(POLL_MS)
    expect(estimate).to_have_text(
        "This is taking longer than expected. The estimate will be updated as your order moves.")
    expect(estimate.locator("time")).to_have_count(0)
    assert watched.errors == []
