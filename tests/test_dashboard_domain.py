"""Settings -> Domain: ask, publish, verify against a real DNS server, replace, remove."""

import pytest
import sqlalchemy as sa
from conftest import make_app
from dns_server import dns_server
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401
from webtest import TestApp

pytestmark = pytest.mark.usefixtures("cheap_hashing")

DOMAIN = "track.bluevase.example"
CHALLENGE = f"_tracee-challenge.{DOMAIN}."
PAGE = "/dashboard/acme/settings/domain/"


@pytest.fixture
def dns(database, registry, tenant):
    """acme's owner logged in on an app whose verification asks a DNS server on loopback."""
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    with dns_server() as (port, records):
        app = TestApp(make_app(database, **{"tracee.domains.resolvers": f"127.0.0.1:{port}"}))
        log_in(app, "owner@acme.test")
        yield app, records
        app.app.registry["db.engine"].dispose()


def domains_of(database, slug="acme") -> tuple:
    with database.admin_engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT domain, pending_domain, domain_token FROM tenants WHERE slug = :s"),
            {"s": slug}).one())


def ask(app, domain, status=302):
    form = app.get(PAGE).forms["domain-form"]
    form["domain"] = domain
    return form.submit(status=status)


def verify(app, status):
    return app.get(PAGE).forms["verify-form"].submit(status=status)


def state(page) -> str:
    return page.html.find(id="domain-state").get_text(" ", strip=True)


def failure(page) -> str:
    return page.html.find(attrs={"role": "alert"}).get_text(" ", strip=True)


def is_served(app, domain) -> bool:
    return app.get(f"/.well-known/tracee/tls-ask?domain={domain}",
                   expect_errors=True).status_int == 200


def test_ask_publish_verify_then_remove(dns, database):
    app, records = dns
    page = app.get(PAGE)
    assert "no domain of your own yet" in state(page)
    assert page.html.find("label", string="Domain")
    page = ask(app, "Track.BlueVase.example.").follow()
    assert "Publish the two DNS records below" in page.html.find(class_="notice").get_text()
    token = domains_of(database)[2]
    assert len(token) >= 40
    assert page.html.find(id="txt-name").get_text() == CHALLENGE.rstrip(".")
    assert page.html.find(id="txt-value").get_text() == token
    assert page.html.find(id="cname-target").get_text() == "tracee.test"  # public_url's host
    assert "pending" in state(page) and DOMAIN in state(page)
    assert not is_served(app, DOMAIN)

    # Nothing published yet: the resolver says the name does not exist.
    refused = verify(app, 409)
    said = failure(refused)
    assert f"There is no TXT record at {CHALLENGE.rstrip('.')} yet." in said
    assert "does not exist" in said and "failed" in state(refused)
    assert refused.html.find(id="txt-value").get_text() == token  # still there to copy
    # Someone else's value: shown, and told apart from the token.
    records[CHALLENGE] = ["google-site-verification=abc"]
    said = failure(verify(app, 409))
    assert "does not hold this tenant's token" in said
    assert "google-site-verification=abc" in said and "none of its values is this token" in said
    assert not is_served(app, DOMAIN)

    records[CHALLENGE] = ["unrelated", token]
    page = verify(app, 302).follow()
    assert f"Verified: {DOMAIN} serves your tracking pages now." in page.text
    assert "verified" in state(page) and "pending" not in state(page)
    assert domains_of(database) == (DOMAIN, None, None)
    assert is_served(app, DOMAIN)

    # Replacing: the verified one is served until the new one is verified.
    page = ask(app, "track.other.example").follow()
    assert DOMAIN in state(page) and "track.other.example" in state(page)
    assert is_served(app, DOMAIN)
    page = page.forms["remove-form"].submit(status=302).follow()
    assert "The domain was removed" in page.text
    assert domains_of(database) == (None, None, None)
    assert not is_served(app, DOMAIN)


def test_a_resolver_that_does_not_answer_is_explained(database, registry, tenant):
    make_user(registry, "owner@acme.test", tenant.id, "owner")
    with dns_server() as (port, _records):
        pass  # closed again: nothing answers on that port
    app = TestApp(make_app(database, **{"tracee.domains.resolvers": f"127.0.0.1:{port}"}))
    try:
        log_in(app, "owner@acme.test")
        ask(app, DOMAIN)
        said = failure(verify(app, 409))
        assert "could not be looked up" in said and "try again in a minute" in said
    finally:
        app.app.registry["db.engine"].dispose()


def test_a_txt_value_in_any_script_is_shown_not_crashed_on(dns, database):
    app, records = dns
    ask(app, DOMAIN)
    records[CHALLENGE] = ["tökén <b>"]
    page = verify(app, 409)
    assert "tökén <b>" in page.html.find(class_="found").get_text()
    assert "<b>" not in str(page.html.find(class_="found")).replace("&lt;b&gt;", "")


def test_the_first_to_verify_wins_and_the_page_tells_the_other(dns, database, registry,
                                                               other_tenant):
    app, records = dns
    ask(app, DOMAIN)
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    rival = TestApp(app.app)
    log_in(rival, "owner@globex.test")
    form = rival.get("/dashboard/globex/settings/domain/").forms["domain-form"]
    form["domain"] = DOMAIN
    form.submit(status=302)
    records[CHALLENGE] = [domains_of(database, "globex")[2], domains_of(database)[2]]
    rival.get("/dashboard/globex/settings/domain/").forms["verify-form"].submit(status=302)
    refused = verify(app, 409)
    assert "already belongs to another tenant" in failure(refused)
    assert "failed" in state(refused) and DOMAIN in state(refused)
    assert domains_of(database)[:2] == (None, DOMAIN)  # still waiting, nothing half-written


@pytest.mark.parametrize(("domain", "status", "says"), [
    ("", 400, "not a valid host name"),
    ("not a host", 400, "not a valid host name"),
    ("-bad-.example", 400, "not a valid host name"),
    ("a" * 64 + ".example", 400, "not a valid host name"),
    ("x" * 400, 400, "not a valid host name"),
    ("127.0.0.1", 400, "not a valid host name"),
    ("tracee.test", 400, "platform's own host name"),
    ("api.tracee.test", 400, "platform's own host name"),
    ("localhost", 400, "not a valid host name"),
    ("taken.example", 409, "already belongs to another tenant"),
])
def test_bad_domains_are_refused_beside_the_field(app, owner, make_tenant, database, domain,
                                                  status, says):
    make_tenant("holder", domain="taken.example")  # set by the operator: verified
    page = ask(app, domain, status=status)
    error = page.html.find(id="f-domain-error").get_text()
    assert says in error, error
    assert page.html.find(id="f-domain")["aria-invalid"] == "true"
    assert page.html.find(id="f-domain")["value"] == domain[:300]
    assert domains_of(database) == (None, None, None)


@pytest.mark.parametrize("action", ["", "verify", "remove"])
def test_no_change_without_its_csrf_token(app, owner, database, action):
    ask(app, DOMAIN)
    before = domains_of(database)
    app.post(PAGE + action, {"domain": "track.sneaky.example"}, status=400)
    app.post(PAGE + action, {"domain": "track.sneaky.example", "csrf_token": "x" * 43},
             status=400)
    assert domains_of(database) == before


def test_an_agency_member_verifies_a_clients_domain(dns, database, registry, make_tenant):
    app, records = dns
    agency = make_tenant("agency", "Agency Co")
    make_tenant("vase", "Blue Vase", parent="agency")
    make_user(registry, "admin@agency.test", agency.id, "admin")
    app.reset()
    log_in(app, "admin@agency.test")
    client_page = "/dashboard/vase/settings/domain/"
    form = app.get(client_page).forms["domain-form"]
    form["domain"] = DOMAIN
    page = form.submit(status=302).follow()
    trail = page.html.find("nav", attrs={"aria-label": "Breadcrumb"}).get_text(" ", strip=True)
    assert trail == "Agency Co › Blue Vase"
    records[CHALLENGE] = [domains_of(database, "vase")[2]]
    app.get(client_page).forms["verify-form"].submit(status=302)
    assert domains_of(database, "vase")[0] == DOMAIN and domains_of(database)[0] is None
    listed = app.get("/dashboard/agency/clients/").html.find("tbody").get_text(" ", strip=True)
    assert DOMAIN in listed and "waiting" not in listed
