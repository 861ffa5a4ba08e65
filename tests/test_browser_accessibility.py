"""axe-core on every dashboard page and the public pages, in a real Chromium:
no serious or critical violation. Pages are filled as a tenant sees them
(a tracker with a hidden step, an own template, a key) and checked on a
desktop and on a phone."""

import pytest
from axe import serious_violations
from live_server import serve
from logins import PASSWORD, cheap_hashing, make_user  # noqa: F401
from test_browser import CHROMIUM_ARGS, DESKTOP, PHONE, screenshot
from test_browser import browser as browser  # noqa: F401  (fixture)

from tracee.accounts.service import find_user
from tracee.accounts.tokens import RESET_PASSWORD, issue_token
from tracee.api.keys import issue_key
from tracee.tenancy.scope import bind_tenant
from tracee.tenancy.service import create_tenant
from tracee.tracking.builtin_templates import StepSpec
from tracee.tracking.templates import create_template
from tracee.tracking.workflow import Actor, apply_action, create_tracker

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_hashing")]
assert CHROMIUM_ARGS  # launched by test_browser's fixture with these

A = "/dashboard/acme"
LOGGED_IN = [
    f"{A}/trackers/", f"{A}/trackers/?q=vase", f"{A}/trackers/new", "TRACKER",
    f"{A}/trackers/labels", f"{A}/settings/", f"{A}/settings/api-keys/",
    f"{A}/settings/api-keys/new", f"{A}/settings/workflow-templates/",
    f"{A}/settings/workflow-templates/new", f"{A}/settings/workflow-templates/flow/",
    f"{A}/settings/workflow-templates/3d-printing/",
    f"{A}/settings/workflow-templates/3d-printing/duplicate", f"{A}/analytics/",
    f"{A}/trackers/?status=late",
    f"{A}/clients/", f"{A}/clients/new", f"{A}/settings/domain/",
]


# Per test: every test starts from an empty database (conftest).
@pytest.fixture
def site(database, browser):  # noqa: F811
    with serve(database, **{"tracee.signup": "open"}) as (url, app):
        registry = app.registry
        session = registry["db.session_factory"]()
        tenant = create_tenant(session, "acme", "Acme Prints", platform_hosts=())
        bind_tenant(session, tenant.id)
        create_template(session, "flow", "Flow", [StepSpec("Cut"), StepSpec("Check", False)])
        tracker = create_tracker(session, tenant.id, "Order #1234 - Blue Vase", Actor("cli"),
                                 template="3d-printing")
        apply_action(session, tracker, "3D Printing", "start", Actor("cli"))
        issue_key(session, tenant.id, "Production Server")
        session.commit()
        ids = tenant.id, tracker.id, tracker.tracking_token
        session.close()
        make_user(registry, "owner@acme.test", ids[0], "owner")
        session = registry["db.session_factory"]()
        reset = issue_token(session, find_user(session, "owner@acme.test"), RESET_PASSWORD)
        session.commit()
        session.close()
        yield url, ids, reset


# What sticks out past a phone's width, outside the boxes that scroll on their own.
_STICKING_OUT = """() => document.documentElement.scrollWidth <= innerWidth ? [] :
  [...document.querySelectorAll('body *')]
  .filter(e => !(e.parentElement && e.parentElement.closest('.table-wrap'))
               && e.getBoundingClientRect().right > innerWidth)
  .map(e => e.tagName + '.' + e.className).slice(0, 6).concat(['scrolls sideways'])"""


def _sideways(page) -> list:
    return page.evaluate(_STICKING_OUT)


def _log_in(page, url):
    page.goto(url + "/login")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.url.endswith("/trackers/"), (page.url, page.inner_text("main"))


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_no_serious_violations_anywhere(browser, site, device, database):  # noqa: F811
    url, (_, tracker_id, token), reset = site
    context = browser.new_context(**(DESKTOP if device == "desktop" else PHONE))
    page = context.new_page()
    found = {}
    try:
        anonymous = ["/login", "/signup", "/password/forgot", f"/password/reset/{reset}",
                     f"/track/{token}", f"/embed/{token}/"]
        for path in anonymous:
            page.goto(url + path)
            found[path] = serious_violations(page)
        _log_in(page, url)
        for path in LOGGED_IN:
            path = f"{A}/trackers/{tracker_id}/" if path == "TRACKER" else path
            page.goto(url + path)
            found[path] = serious_violations(page)
            if device == "phone":
                found[path + " (width)"] = _sideways(page)
        screenshot(page, f"a11y-last-page-{device}", database)
    finally:
        context.close()
    assert {path: v for path, v in found.items() if v} == {}
