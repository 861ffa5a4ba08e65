"""An agency runs a client from the dashboard, in a real headless Chromium.

The flow is a list of steps sharing one ``Flow``: each step drives the page,
and every page it lands on is checked with axe-core and kept as a screenshot
(``test-artifacts/agency-<nn>-<step>-<database>.png``): log in, create a
client, switch into it, give it a tracker and a verified domain, brand it,
publish its own tracking template; its customer then sees the client's page
and nothing of the agency. Each step reads what earlier ones left in ``Flow``.
"""

from dataclasses import dataclass, field

import pytest
import requests
from axe import serious_violations
from dns_server import dns_server
from live_server import serve
from logins import PASSWORD, cheap_hashing, make_user  # noqa: F401
from test_browser import CHROMIUM_ARGS, DESKTOP, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)

from tracee.tenancy.service import create_tenant

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_hashing")]
assert CHROMIUM_ARGS  # launched by test_browser's fixture with these

AGENCY_NAME, CLIENT_NAME, CLIENT_SLUG = "Studio Agency", "Blue Vase Ceramics", "blue-vase-ceramics"
DOMAIN = "track.bluevase.example"
EMAIL = "owner@studio.test"


@dataclass
class Flow:
    """What the steps share: the page, the server, the DNS records, what was made."""

    page: object
    url: str
    database: object
    records: dict  # the local DNS server's TXT records, name -> values
    errors: list  # uncaught exceptions and console errors (a CSP refusal, say)
    made: dict = field(default_factory=dict)  # e.g. "tracking_url", set by a step
    visited: dict = field(default_factory=dict)  # path -> axe's serious violations
    shots: int = 0

    def check(self, name: str):
        """axe-core and a screenshot of the page as it is now."""
        path = self.page.url.removeprefix(self.url)
        self.visited[f"{path} ({name})"] = serious_violations(self.page)
        self.shots += 1
        screenshot(self.page, f"agency-{self.shots:02d}-{name}", self.database)

    def main_nav(self):
        return self.page.get_by_role("navigation", name="Main")


def agency_member_logs_in(flow: Flow):
    page = flow.page
    page.goto(flow.url + "/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/studio/trackers/")
    flow.check("logged-in")


def creates_a_client(flow: Flow):
    page = flow.page
    flow.main_nav().get_by_role("link", name="Clients").click()
    page.wait_for_url("**/dashboard/studio/clients/")
    assert "No clients yet" in page.inner_text("main")
    flow.check("no-clients")
    page.get_by_role("link", name="New client").click()
    page.wait_for_url("**/clients/new")
    page.get_by_role("button", name="Create client").click()  # empty: refused beside the field
    assert page.locator("#f-name-error").is_visible()
    flow.check("new-client-refused")
    page.get_by_label("Name").fill(CLIENT_NAME)
    assert page.get_by_label("Slug").input_value() == CLIENT_SLUG  # follows the name
    page.get_by_label("Domain (optional)").fill(DOMAIN)
    flow.check("new-client-filled")
    page.get_by_role("button", name="Create client").click()
    page.wait_for_url(f"**/clients/?created={CLIENT_SLUG}")
    row = page.get_by_role("row", name=CLIENT_NAME)
    assert DOMAIN in row.inner_text() and "waiting for verification" in row.inner_text()
    flow.check("clients")


def switches_into_the_client(flow: Flow):
    page = flow.page
    page.get_by_role("link", name=CLIENT_NAME, exact=True).click()
    page.wait_for_url(f"**/dashboard/{CLIENT_SLUG}/trackers/")
    trail = page.get_by_role("navigation", name="Breadcrumb")
    assert trail.inner_text().split() == [*AGENCY_NAME.split(), "›", *CLIENT_NAME.split()]
    assert trail.get_by_role("link", name=AGENCY_NAME).get_attribute("href") == (
        "/dashboard/studio/clients/")
    switcher = page.locator("details.switcher")
    switcher.locator("summary").click()
    assert switcher.get_by_role("link", name=AGENCY_NAME, exact=True).is_visible()
    flow.check("client-trackers")
    switcher.locator("summary").click()


def creates_a_tracker_for_it(flow: Flow):
    page = flow.page
    page.get_by_role("link", name="New tracker").click()
    page.get_by_label("Name").fill("Order #1234 - Blue Vase")
    page.get_by_role("button", name="Create tracker").click()
    page.wait_for_url(f"**/dashboard/{CLIENT_SLUG}/trackers/*/")
    assert page.get_by_role("navigation", name="Breadcrumb").is_visible()
    flow.made["tracking_url"] = page.locator("#tracking-url").input_value()
    flow.check("client-tracker")


def sets_up_its_domain(flow: Flow):
    page = flow.page
    flow.main_nav().get_by_role("link", name="Domain").click()
    page.wait_for_url(f"**/dashboard/{CLIENT_SLUG}/settings/domain/")
    assert page.get_by_role("navigation", name="Breadcrumb").is_visible()
    assert page.locator("#txt-name").inner_text() == f"_tracee-challenge.{DOMAIN}"
    flow.check("domain-pending")
    page.get_by_role("button", name="Verify").click()  # nothing published yet
    assert "There is no TXT record" in page.get_by_role("alert").inner_text()
    flow.check("domain-failed")
    token = page.locator("#txt-value").inner_text().strip()
    flow.records[f"_tracee-challenge.{DOMAIN}."] = [token]
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/settings/domain/?done=verified")
    assert f"Verified: {DOMAIN}" in page.get_by_role("status").inner_text()
    flow.check("domain-verified")


FOOTER = "Handmade in Leeds"
CLIENT_TEMPLATE = (
    '<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">'
    '<title>{{ tracker.name }} · {{ brand.display_name }}</title></head><body>'
    '<main><h1>{{ tracker.name }}</h1><p class="made-by">Made by {{ brand.display_name }}</p>'
    '<ol>{% for step in tracker.steps %}<li>{{ step.label }}: {{ step.status_label }}</li>'
    '{% endfor %}</ol><footer>{{ brand.footer_text }}</footer></main></body></html>')


def brands_the_client(flow: Flow):
    page = flow.page
    flow.main_nav().get_by_role("link", name="Branding").click()
    page.wait_for_url(f"**/dashboard/{CLIENT_SLUG}/settings/branding/")
    assert page.get_by_role("navigation", name="Breadcrumb").is_visible()
    page.get_by_label("Brand colour", exact=True).fill("#0f766e")
    page.get_by_label("Footer text").fill(FOOTER)
    # The live preview follows the form, unsaved.
    page.frame_locator("iframe[name=preview]").get_by_text(FOOTER).wait_for()
    flow.check("client-branding")
    page.get_by_role("button", name="Save branding").first.click()
    page.get_by_text("Saved.").wait_for()
    flow.check("client-branded")


def publishes_its_tracking_template(flow: Flow):
    page = flow.page
    flow.main_nav().get_by_role("link", name="Page templates").click()
    page.get_by_role("link", name="Tracking page").click()
    page.wait_for_url(f"**/dashboard/{CLIENT_SLUG}/settings/page-templates/tracking/")
    page.get_by_label("Template source").fill(CLIENT_TEMPLATE)
    page.get_by_role("button", name="Preview").click()
    preview = page.frame_locator("iframe.template-preview").locator("body")
    assert f"Made by {CLIENT_NAME}" in preview.inner_text()
    flow.check("client-template-preview")
    page.get_by_role("button", name="Publish").click()
    assert "customers see this template now" in page.get_by_role("status").inner_text()
    flow.check("client-template-published")


def customer_sees_the_client(flow: Flow):
    page = flow.page
    tracking_url = flow.made["tracking_url"]
    page.goto(tracking_url)
    assert page.get_by_role("heading", name="Order #1234 - Blue Vase").is_visible()
    text = page.inner_text("body")
    assert CLIENT_NAME in text and AGENCY_NAME not in text
    # The client's own template, in its brand, and nothing of the built-in page.
    assert f"Made by {CLIENT_NAME}" in text and FOOTER in text
    flow.check("customer-page")
    # ... and on the client's own, now verified, domain.
    on_domain = requests.get(tracking_url, headers={"Host": DOMAIN}, timeout=10)
    assert on_domain.status_code == 200 and f"Made by {CLIENT_NAME}" in on_domain.text
    assert AGENCY_NAME not in on_domain.text


STEPS = [
    agency_member_logs_in,
    creates_a_client,
    switches_into_the_client,
    creates_a_tracker_for_it,
    sets_up_its_domain,
    brands_the_client,
    publishes_its_tracking_template,
    customer_sees_the_client,
]


@pytest.fixture
def flow(browser, database):  # noqa: F811
    with dns_server() as (port, records), serve(
            database, **{"tracee.domains.resolvers": f"127.0.0.1:{port}"}) as (url, app):
        session = app.registry["db.session_factory"]()
        agency = create_tenant(session, "studio", AGENCY_NAME, platform_hosts=())
        session.commit()
        agency_id = agency.id
        session.close()
        make_user(app.registry, EMAIL, agency_id, "owner")
        context = browser.new_context(**DESKTOP)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # A refused form is a 4xx page, which Chromium logs; anything else is an error.
        page.on("console", lambda m: m.type == "error" and not m.text.startswith(
            "Failed to load resource: the server responded with a status of 4")
            and errors.append(m.text))
        try:
            yield Flow(page, url, database, records, errors)
        finally:
            context.close()


def test_an_agency_sets_up_a_client_from_the_dashboard(flow):
    for step in STEPS:
        step(flow)
    assert {path: found for path, found in flow.visited.items() if found} == {}
    assert flow.errors == []
