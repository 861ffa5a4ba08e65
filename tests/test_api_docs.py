"""/docs/api in a real Chromium: Swagger UI renders every operation from our own
files under the page's CSP, and axe-core finds no serious accessibility problem."""

import json
from pathlib import Path

import pytest
from live_server import serve
from test_browser import CHROMIUM_ARGS, DESKTOP, browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def docs_page(database, browser):  # noqa: F811
    with serve(database) as (url, app):
        context = browser.new_context(**DESKTOP)
        page = context.new_page()
        problems, requests = [], []
        page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("request", lambda r: requests.append(r.url))
        response = page.goto(url + "/docs/api")
        page.wait_for_selector(".opblock-summary", timeout=20_000)
        yield url, app, page, response, problems, requests
        context.close()


def test_the_reference_renders_every_operation(docs_page):
    url, app, page, response, problems, requests = docs_page
    spec = app.registry["api.openapi"]
    operations = {(method.upper(), path) for path, item in json.loads(spec)["paths"].items()
                  for method in item}
    shown = {(b.inner_text().strip(), p.inner_text().replace("\u200b", "").strip())
             for b, p in zip(page.query_selector_all(".opblock-summary-method"),
                             page.query_selector_all(".opblock-summary-path"), strict=True)}
    assert shown == operations
    assert "Tracee API" in page.inner_text(".information-container")
    # Nothing from another origin, and nothing the CSP had to refuse.
    assert requests and all(r.startswith(url) or r.startswith("data:") for r in requests)
    assert problems == []


def test_the_pages_csp_is_its_own(docs_page, app):
    _, _, _, response, _, _ = docs_page
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    # Every other page keeps the site's policy, with no script at all.
    other = app.get("/track/00000000-0000-4000-8000-000000000000", expect_errors=True)
    assert "script-src" not in other.headers["Content-Security-Policy"]


def test_axe_finds_no_serious_violations(docs_page):
    page = docs_page[2]
    page.evaluate(AXE.read_text())  # by DevTools, so the page's CSP does not apply to it
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:4])
               for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
