"""The customer's pages in a real headless Chromium, served over real HTTP.

Each database gets its own live server whose ``tracee.public_url`` is the
server's own address, so the ``tracking_url`` and ``embed_code`` the API
hands out are the ones the browser opens. A second server on another origin
plays the integrator's shop, to frame the embed (allowed) and the full page
(refused). Data is made through the public API, exactly as integrators do.

Chromium is ``/usr/bin/chromium`` (or ``TRACEE_TEST_CHROMIUM``); without it
these tests are skipped, unless ``TRACEE_TEST_REQUIRE_BROWSER=1`` (CI).
"""

import html
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import webob
from conftest import ARTIFACTS, _unavailable
from live_server import serve
from PIL import Image
from webtest import TestApp
from webtest.http import StopableWSGIServer

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the ``browser`` fixture, as a skip or a failure
    expect = sync_playwright = None

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("TRACEE_TEST_CHROMIUM", "/usr/bin/chromium"))
# The background-networking switches keep Chromium from dialling Google on an
# offline machine; --headless=new is the only headless mode left in Chromium.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
    "is_mobile": True, "has_touch": True,
}


def _rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def contrast(css_a: str, css_b: str) -> float:
    """WCAG contrast ratio of two computed ``rgb(r, g, b)`` colours."""

    def luminance(css):
        channels = [int(c) / 255 for c in css[css.index("(") + 1 : -1].split(",")[:3]]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(css_a), luminance(css_b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# --- servers -----------------------------------------------------------------


@dataclass
class Live:
    url: str  # no trailing slash, as tracee.public_url wants it
    api: TestApp  # the very same app, for creating data through the API


@pytest.fixture(scope="module")
def live(database):
    # A generous page limit: all tests share 127.0.0.1 and the limiter of this app.
    with serve(database, **{"tracee.ratelimit.public": "100000/minute"}) as (url, app):
        yield Live(url, TestApp(app))


class ShopSite:
    """The integrator's site: HTML pages published by a test, on another origin."""

    def __init__(self):
        self.pages = {}
        self.server = StopableWSGIServer.create(self)
        # localhost vs the app's 127.0.0.1: a different port *and* a different site.
        self.base = f"http://localhost:{self.server.adj.port}"

    def publish(self, body_html: str) -> str:
        path = f"/{uuid.uuid4().hex}.html"
        self.pages[path] = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<title>Your order at the shop</title><link rel="icon" href="data:,"></head>'
            f"<body><h1>Thanks for your order</h1>{body_html}</body></html>"
        )
        return self.base + path

    def __call__(self, environ, start_response):
        body = self.pages.get(environ["PATH_INFO"])
        if body is None:
            return webob.Response("not found", status=404)(environ, start_response)
        response = webob.Response(body, content_type="text/html", charset="utf-8")
        return response(environ, start_response)


@pytest.fixture(scope="module")
def shop():
    site = ShopSite()
    try:
        yield site
    finally:
        site.server.shutdown()


# --- browser -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        _unavailable("the playwright package is not installed", "TRACEE_TEST_REQUIRE_BROWSER")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (set TRACEE_TEST_CHROMIUM)",
                     "TRACEE_TEST_REQUIRE_BROWSER")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """A page plus what it did that a test may want to forbid."""

    page: object
    dialogs: list
    errors: list  # console errors and uncaught exceptions


@pytest.fixture(scope="module")
def desktop(browser):
    # Shared, so its HTTP cache saves every test the cold first load; the pages
    # keep no cookies or storage that could leak from one test into the next.
    context = browser.new_context(**DESKTOP)
    yield context
    context.close()


@pytest.fixture
def open_page(browser, desktop):
    """open_page(**context_options) -> Watched: a new page, in a fresh context if options."""
    opened = []

    def open_(**options):
        context = browser.new_context(**{**DESKTOP, **options}) if options else desktop
        page = context.new_page()
        opened.append(context if options else page)
        watched = Watched(page, [], [])

        def on_dialog(dialog):
            watched.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("console", lambda m: m.type == "error" and watched.errors.append(
            f"{m.text} at {m.location['url']}"))
        page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
        return watched

    yield open_
    for context_or_page in opened:
        context_or_page.close()


def screenshot(page, name: str, database) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{database.kind}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path


# --- data, through the API ---------------------------------------------------


def create_tracker(live, tenant, name, template="3d-printing") -> dict:
    body = {"name": name} if template is None else {"name": name, "template": template}
    return live.api.post_json("/api/v1/trackers/", body, headers=tenant.headers, status=201).json


def act(live, tenant, tracker, process, action) -> dict:
    return live.api.post_json(
        f"/api/v1/trackers/{tracker['id']}/status/", {"process": process, "action": action},
        headers=tenant.headers, status=200,
    ).json


def packaging_underway(live, tenant, name="Order #1234 - Blue Vase") -> dict:
    """Three visible steps done, the hidden Quality Check done, Packaging in progress."""
    tracker = create_tracker(live, tenant, name)
    act(live, tenant, tracker, "Quality Check", "complete")
    detail = act(live, tenant, tracker, "Packaging", "start")
    hidden = next(s for s in detail["steps"] if s["name"] == "Quality Check")
    # The hidden step is real data with a status; only the pages must leave it out.
    assert (hidden["visible"], hidden["status"]) == (False, "completed")
    assert detail["tracking_url"].startswith(live.url + "/track/")
    return detail


def visible_steps(page) -> list[tuple[str, str]]:
    names = page.locator(".steps .step-name").all_inner_texts()
    statuses = page.locator(".steps .step-status").all_inner_texts()
    return [(n, s.split(" · ")[0]) for n, s in zip(names, statuses, strict=True)]


def progress_of(page) -> tuple[float, float]:
    return tuple(page.eval_on_selector("progress", "p => [p.value, p.max]"))


# --- the tracking page -------------------------------------------------------


def test_tracking_page_shows_visible_steps_and_progress(live, tenant, open_page, database):
    tracker = packaging_underway(live, tenant)
    watched = open_page()
    page = watched.page

    response = page.goto(tracker["tracking_url"])

    assert response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    expect(page.locator("h1")).to_have_text("Order #1234 - Blue Vase")
    expect(page.locator(".brand-bar")).to_contain_text("Acme Prints")
    expect(page).to_have_title("Order #1234 - Blue Vase · Acme Prints")
    assert visible_steps(page) == [
        ("Preparing/Slicing", "Done"), ("3D Printing", "Done"), ("Post-Processing", "Done"),
        ("Packaging", "In progress"), ("Ready for Shipping", "Waiting"),
    ]
    assert "Quality Check" not in page.locator("body").inner_text()
    assert "Quality Check" not in page.content()
    assert progress_of(page) == (3, 5)
    expect(page.locator(".meter")).to_contain_text("3 of 5 steps done")
    current = page.locator('[aria-current="step"]')
    expect(current).to_have_count(1)
    expect(current).to_contain_text("Packaging")
    expect(page.locator(".headline")).to_have_text("Packaging")
    # Nothing the page needs (stylesheet, nonce'd style, QR image) was blocked or broken.
    assert watched.errors == []
    assert page.eval_on_selector("main", "m => getComputedStyle(m).backgroundColor") != (
        "rgba(0, 0, 0, 0)"
    ), "the stylesheet did not apply"
    screenshot(page, "tracking-desktop", database)


def test_completed_order_reads_complete(live, tenant, open_page):
    tracker = create_tracker(live, tenant, "Order #77 - Chess Set")
    # The documented "shipped" mapping: completing the last step finishes everything.
    act(live, tenant, tracker, "Ready for Shipping", "complete")
    page = open_page().page

    page.goto(tracker["tracking_url"])

    expect(page.locator(".headline")).to_have_text("Complete")
    assert progress_of(page) == (5, 5)
    assert [status for _, status in visible_steps(page)] == ["Done"] * 5
    expect(page.locator('[aria-current="step"]')).to_have_count(0)


def test_order_without_steps_reads_received(live, tenant, open_page):
    tracker = create_tracker(live, tenant, "Order #78 - Gift Card", template=None)
    page = open_page().page

    page.goto(tracker["tracking_url"])

    expect(page.locator(".headline")).to_have_text("Order received")
    expect(page.locator(".steps")).to_contain_text("Work has not started yet")
    expect(page.locator("progress")).to_have_count(0)


def test_phone_layout_does_not_scroll_sideways(live, tenant, open_page, database):
    # One unbreakable word, as order references and product codes often are.
    name = "Order #4321 - " + "ReplacementHingeBracketLeftSideMattBlack" * 2
    tracker = packaging_underway(live, tenant, name)
    page = open_page(**PHONE).page

    page.goto(tracker["tracking_url"])

    expect(page.locator("h1")).to_have_text(name)
    width = page.evaluate("innerWidth")
    assert width == 390
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    # Text must stay readable without zooming.
    font_px = page.eval_on_selector(".step-name", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert font_px >= 14
    screenshot(page, "tracking-phone", database)


def test_markup_in_a_tracker_name_is_shown_as_text(live, tenant, open_page):
    name = "Vase <script>alert(1)</script> <img src=x onerror=alert(2)>"
    tracker = create_tracker(live, tenant, name)
    watched = open_page()
    page = watched.page

    for url in (tracker["tracking_url"], f"{live.url}/embed/{tracker['tracking_token']}/"):
        page.goto(url)
        expect(page.locator("h1")).to_have_text(name)
        expect(page.get_by_text("<script>alert(1)</script>", exact=False)).to_be_visible()
        # The CSP would stop an injected script anyway; the DOM shows nothing was
        # injected: the one script is the page's own file.
        assert page.locator("script").count() == 1
        assert page.locator("script[src$='/static/live.js']").count() == 1
        assert page.locator("img[src='x']").count() == 0
        assert page.title().startswith(name)
    assert watched.dialogs == []


def test_page_needs_no_javascript(live, tenant, open_page):
    tracker = packaging_underway(live, tenant)
    page = open_page(java_script_enabled=False).page

    response = page.goto(tracker["tracking_url"])

    assert response.status == 200
    expect(page.locator("h1")).to_have_text("Order #1234 - Blue Vase")
    expect(page.locator('[aria-current="step"]')).to_contain_text("Packaging")
    expect(page.locator("progress")).to_have_attribute("value", "3")
    # The QR code sits in a <details>, which opens without any script.
    qr = page.get_by_role("img", name="QR code")
    expect(qr).to_be_hidden()
    page.get_by_text("Show QR code").click()
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")


def test_unknown_token_gets_a_friendly_404(live, open_page, database):
    page = open_page().page

    for path in (f"/track/{uuid.uuid4()}", f"/embed/{uuid.uuid4()}/", "/track/not-a-token"):
        response = page.goto(live.url + path)

        assert response.status == 404, path
        expect(page.locator("h1")).to_have_text("We couldn't find that order")
        expect(page.locator("main")).to_contain_text("check the link")
    screenshot(page, "not-found", database)


def test_stale_embed_shows_its_404_inside_the_shop_page(live, shop, open_page):
    stale = f"{live.url}/embed/{uuid.uuid4()}/"
    host_url = shop.publish(f'<iframe title="Order tracking" src="{html.escape(stale)}"></iframe>')
    page = open_page().page

    with page.expect_response(stale) as served:
        page.goto(host_url)

    assert served.value.status == 404
    expect(page.frame_locator("iframe").locator("h1")).to_have_text("We couldn't find that order")


# --- framing -----------------------------------------------------------------


def test_embed_renders_inside_another_sites_page(live, tenant, shop, open_page, database):
    tracker = packaging_underway(live, tenant)
    # The snippet exactly as the API hands it to the integrator.
    host_url = shop.publish(tracker["embed_code"])
    watched = open_page()
    page = watched.page

    page.goto(host_url)

    frame = page.frame_locator("iframe")
    expect(frame.locator("h1")).to_have_text("Order #1234 - Blue Vase")
    expect(frame.locator('[aria-current="step"]')).to_contain_text("Packaging")
    expect(frame.locator("body")).not_to_contain_text("Quality Check")
    link = frame.get_by_role("link", name="Open full tracking page")
    expect(link).to_have_attribute("href", tracker["tracking_url"])
    expect(link).to_have_attribute("target", "_blank")
    embedded = page.locator("iframe").element_handle().content_frame()
    assert embedded.url == f"{live.url}/embed/{tracker['tracking_token']}/"
    assert not host_url.startswith(live.url)
    screenshot(page, "embed-host", database)
    # The widget must fill the documented 100% x 400px frame, without an inner scrollbar.
    assert embedded.evaluate("document.scrollingElement.scrollHeight") <= 400
    assert embedded.evaluate("document.querySelector('main').offsetWidth") == embedded.evaluate(
        "innerWidth"
    )
    assert watched.errors == []


def test_full_tracking_page_refuses_to_be_framed(live, tenant, shop, open_page):
    tracker = packaging_underway(live, tenant)
    full_url = html.escape(tracker["tracking_url"])
    embed_url = html.escape(f"{live.url}/embed/{tracker['tracking_token']}/")
    host_url = shop.publish(
        f'<iframe id="full" title="full page" src="{full_url}"></iframe>'
        f'<iframe id="embed" title="widget" src="{embed_url}"></iframe>'
    )
    page = open_page().page

    with page.expect_response(tracker["tracking_url"]) as served:
        page.goto(host_url)

    # The server did answer; it is the browser that refuses to show the answer.
    assert served.value.status == 200
    assert served.value.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in served.value.headers["content-security-policy"]
    # The widget on the same host page loads, so the host page itself is fine.
    expect(page.frame_locator("#embed").locator("h1")).to_have_text("Order #1234 - Blue Vase")
    full = page.locator("#full").element_handle().content_frame()
    full.wait_for_load_state()
    assert "Blue Vase" not in full.content()
    assert full.url != tracker["tracking_url"]


# --- branding ----------------------------------------------------------------


def brand_colours(page) -> dict:
    return page.evaluate(
        """() => ({
            headline: getComputedStyle(document.querySelector('.headline')).color,
            progress: getComputedStyle(document.querySelector('progress')).accentColor,
            card: getComputedStyle(document.querySelector('main')).borderTopColor,
        })"""
    )


def test_tenant_colour_brands_the_page(live, make_tenant, open_page):
    red = make_tenant("redco", "Red Co", color="#aa0000")
    tracker = create_tracker(live, red, "Order #9 - Red Lamp")
    act(live, red, tracker, "3D Printing", "start")
    page = open_page().page

    page.goto(tracker["tracking_url"])

    expect(page.locator(".brand-bar")).to_contain_text("Red Co")
    assert brand_colours(page) == dict.fromkeys(("headline", "progress", "card"), _rgb("#aa0000"))


def test_pale_brand_colour_keeps_text_readable(live, make_tenant, open_page):
    sunny = make_tenant("sunny", "Sunny Prints", color="#ffd400")
    tracker = create_tracker(live, sunny, "Order #21 - Yellow Duck")
    act(live, sunny, tracker, "3D Printing", "start")
    page = open_page().page

    page.goto(tracker["tracking_url"])

    colours = brand_colours(page)
    # Bars and borders carry the brand as chosen...
    assert colours["progress"] == colours["card"] == _rgb("#ffd400")
    # ...but text on the card and on the page background stays readable (WCAG AA).
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert contrast(colours["headline"], "rgb(255, 255, 255)") >= 4.5
    brand_name = page.eval_on_selector(".brand-name", "e => getComputedStyle(e).color")
    assert contrast(brand_name, background) >= 4.5


def test_client_without_branding_acquires_its_agencys(live, make_tenant, open_page):
    logo = "https://cdn.agency.example/logo.png"
    make_tenant("studio", "Studio Agency", color="#0b6e4f", logo_url=logo)
    client = make_tenant("bakery", "Corner Bakery", parent="studio")
    plain = make_tenant("plain", "Plain Shop")
    tracker = create_tracker(live, client, "Order #12 - Cake Topper")
    act(live, client, tracker, "3D Printing", "start")
    unbranded = create_tracker(live, plain, "Order #13 - Spare Part")
    act(live, plain, unbranded, "3D Printing", "start")
    page = open_page().page
    png = io.BytesIO()
    Image.new("RGB", (160, 48), (11, 110, 79)).save(png, "PNG")
    # The machine is offline: answer for the agency's CDN from inside the browser.
    page.route(logo, lambda route: route.fulfill(body=png.getvalue(), content_type="image/png"))

    page.goto(tracker["tracking_url"])

    assert brand_colours(page) == dict.fromkeys(("headline", "progress", "card"), _rgb("#0b6e4f"))
    # The client keeps its own name; only the gaps are filled from the agency.
    logo_img = page.get_by_role("img", name="Corner Bakery")
    expect(logo_img).to_have_attribute("src", logo)
    assert logo_img.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page).to_have_title("Order #12 - Cake Topper · Corner Bakery")

    # A tenant with no agency and no colour falls back to the platform default.
    page.goto(unbranded["tracking_url"])
    assert brand_colours(page)["headline"] == _rgb("#4f46e5")
