"""The customer's language and local time, in a real Chromium with its own zone and locale."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from axe import serious_violations
from test_browser import act, create_tracker
from test_browser import browser as browser  # noqa: F401  (fixture)
from test_browser import desktop as desktop  # noqa: F401  (fixture)
from test_browser import live as live  # noqa: F401  (fixture)
from test_browser import open_page as open_page  # noqa: F401  (fixture)
from test_browser_live import POLL_MS

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the ``browser`` fixture
    expect = None

pytestmark = pytest.mark.browser
BERLIN = ZoneInfo("Europe/Berlin")


def _local_clock(iso: str, zone: ZoneInfo) -> str:
    """The hours and minutes a reader in ``zone`` sees for the instant ``iso``."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone).strftime("%H:%M")


def test_a_german_reader_in_berlin(live, tenant, open_page):
    watched = open_page(locale="de-DE", timezone_id="Europe/Berlin")
    page = watched.page
    page.clock.install()
    tracker = create_tracker(live, tenant, "Order #90 - Lamp")
    act(live, tenant, tracker, "Preparing/Slicing", "complete")
    act(live, tenant, tracker, "3D Printing", "start")
    page.goto(tracker["tracking_url"] + "?lang=de")

    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator(".status-label")).to_have_text("Aktueller Schritt")
    expect(page.locator(".meter-label")).to_have_text("1 von 5 Schritten erledigt")
    expect(page.locator(".live-note")).to_have_text("Diese Seite aktualisiert sich selbst.")
    # The step under way: since when, in Berlin's time, as a German writes it.
    started = page.locator(".step-in_progress time")
    iso = started.get_attribute("datetime")
    expect(started).to_contain_text(_local_clock(iso, BERLIN))
    expect(page.locator(".step-in_progress .step-status")).to_contain_text("In Arbeit · seit ")
    assert not started.inner_text().endswith("UTC")
    # Just now: said as such, the full time kept in its title.
    updated = page.locator(".card-foot time")
    expect(updated).to_have_text("jetzt")
    assert _local_clock(updated.get_attribute("datetime"), BERLIN) in \
        updated.get_attribute("title")
    assert serious_violations(page) == []

    # The page updates itself in German, and its times stay local.
    act(live, tenant, tracker, "3D Printing", "complete")
    act(live, tenant, tracker, "Post-Processing", "start")
    page.clock.run_for(POLL_MS)
    expect(page.locator(".meter-label")).to_have_text("2 von 5 Schritten erledigt")
    expect(page.locator(".step-in_progress .step-status")).to_contain_text("In Arbeit · seit ")
    expect(page.locator(".step-completed").nth(1).locator("time")).to_have_text("jetzt")
    page.clock.run_for(2 * 3600 * 1000)
    expect(page.locator(".step-completed").nth(1).locator("time")).to_have_text(
        "vor 2 Stunden")
    assert serious_violations(page) == []
    assert watched.errors == []


@pytest.mark.parametrize("kind", ["page", "embed"])
def test_a_french_browser_reads_french(live, tenant, open_page, kind):
    watched = open_page(locale="fr-FR", timezone_id="America/Montreal")
    page = watched.page
    tracker = create_tracker(live, tenant, "Order #91 - Chair")
    act(live, tenant, tracker, "Preparing/Slicing", "start")
    url = tracker["tracking_url"] if kind == "page" else tracker["tracking_url"].replace(
        "/track/", "/embed/") + "/"
    page.goto(url)  # no ?lang=: the browser's Accept-Language says French
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator(".status-label")).to_have_text("Étape en cours")
    expect(page.locator(".meter-label")).to_have_text("0 sur 5 étapes terminées")
    if kind == "page":
        started = page.locator(".step-in_progress time")
        expect(started).to_contain_text(
            _local_clock(started.get_attribute("datetime"), ZoneInfo("America/Montreal")))
    assert serious_violations(page) == []
    assert watched.errors == []
