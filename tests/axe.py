"""axe-core (vendored from the npm registry) run inside a Playwright page."""

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def serious_violations(page) -> list:
    """axe's serious and critical findings on the page as it is now: (rule, impact, targets)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # by DevTools, so the page's CSP does not apply to it
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:4])
            for v in results["violations"] if v["impact"] in ("serious", "critical")]
