"""Custom domains: asked for, verified through a real DNS lookup, only then served."""

import pytest
from conftest import make_app
from dns_server import dns_server
from webtest import TestApp

DOMAIN = "track.bluevase.example"
PATH = "/api/v1/branding/domain"


@pytest.fixture
def dns(database):
    """A DNS server on loopback, and an app whose verification asks it."""
    with dns_server() as (port, records):
        app = TestApp(make_app(database, **{"tracee.domains.resolvers": f"127.0.0.1:{port}"}))
        yield app, records
        app.app.registry["db.engine"].dispose()


def _page_on(app, handle, host):
    tracker = app.post_json("/api/v1/trackers/", {"name": "Vase"}, headers=handle.headers).json
    return app.get(f"/track/{tracker['tracking_token']}", headers={"Host": host},
                   expect_errors=True)


def _served_as_its_root(app, handle, other):
    """Whether the host is the tenant's own root: its trackers only (another's is a 404).
    A host that is no tenant's is the platform's, as any unknown Host always was."""
    return (_page_on(app, handle, DOMAIN).status_int == 200
            and _page_on(app, other, DOMAIN).status_int == 404)


def test_a_domain_is_served_only_once_its_txt_record_is_verified(dns, tenant, other_tenant):
    app, records = dns
    asked = app.put_json(PATH, {"domain": "Track.BlueVase.example."}, headers=tenant.headers).json
    assert asked["domain"] is None and asked["pending_domain"] == DOMAIN
    assert asked["txt_record"]["name"] == f"_tracee-challenge.{DOMAIN}"
    assert asked["cname_target"] == "tracee.test"
    token = asked["txt_record"]["value"]
    assert len(token) >= 40
    assert not _served_as_its_root(app, tenant, other_tenant)  # not served yet
    app.get(f"/.well-known/tracee/tls-ask?domain={DOMAIN}", status=404)

    refused = app.post(PATH + "/verify", headers=tenant.headers, status=409).json
    assert "no TXT record" in refused["errors"][0]["description"]
    records[f"_tracee-challenge.{DOMAIN}."] = ["someone else's token"]
    refused = app.post(PATH + "/verify", headers=tenant.headers, status=409).json
    assert "does not hold" in refused["errors"][0]["description"]

    records[f"_tracee-challenge.{DOMAIN}."] = ["unrelated", token]
    verified = app.post(PATH + "/verify", headers=tenant.headers).json
    assert verified == {"domain": DOMAIN, "pending_domain": None, "txt_record": None,
                        "cname_target": "tracee.test"}
    assert _served_as_its_root(app, tenant, other_tenant)
    app.get(f"/.well-known/tracee/tls-ask?domain={DOMAIN}", status=200)
    app.get(f"/.well-known/tracee/tls-ask?domain={DOMAIN.upper()}.", status=200)

    app.delete(PATH, headers=tenant.headers)
    assert not _served_as_its_root(app, tenant, other_tenant)
    app.get(f"/.well-known/tracee/tls-ask?domain={DOMAIN}", status=404)


def test_an_unreachable_resolver_is_a_clear_409(database, tenant):
    with dns_server() as (port, _records):
        pass  # the port is closed again: nothing answers there
    app = TestApp(make_app(database, **{"tracee.domains.resolvers": f"127.0.0.1:{port}"}))
    app.put_json(PATH, {"domain": DOMAIN}, headers=tenant.headers)
    refused = app.post(PATH + "/verify", headers=tenant.headers, status=409).json
    assert "could not be looked up" in refused["errors"][0]["description"]
    app.app.registry["db.engine"].dispose()


@pytest.mark.parametrize(("domain", "status"), [
    ("not a host", 400), ("tracee.test", 400), ("api.tracee.test", 400), ("localhost", 400),
    ("127.0.0.1", 400), ("-bad-.example", 400), ("a" * 64 + ".example", 400),
    ("taken.example", 409),
])
def test_malformed_platform_and_taken_domains_are_refused(app, tenant, make_tenant, domain,
                                                          status):
    make_tenant("holder", domain="taken.example")  # set by the operator: verified
    refused = app.put_json(PATH, {"domain": domain}, headers=tenant.headers, status=status).json
    assert refused["errors"][0]["name"] == "domain"
    assert app.get(PATH, headers=tenant.headers).json["pending_domain"] is None


def test_the_first_to_verify_wins_and_the_other_is_told(dns, tenant, other_tenant):
    app, records = dns
    tokens = []
    for handle in (tenant, other_tenant):  # both may ask while it is unverified
        tokens.append(app.put_json(PATH, {"domain": DOMAIN}, headers=handle.headers)
                      .json["txt_record"]["value"])
    records[f"_tracee-challenge.{DOMAIN}."] = tokens
    app.post(PATH + "/verify", headers=other_tenant.headers, status=200)
    refused = app.post(PATH + "/verify", headers=tenant.headers, status=409).json
    assert "belongs to another tenant" in refused["errors"][0]["description"]
    assert _served_as_its_root(app, other_tenant, tenant)


def test_operator_domains_count_as_verified_and_keep_working(app, make_tenant):
    shop = make_tenant("shop", domain="track.shop.example")
    assert _page_on(app, shop, "track.shop.example").status_int == 200
    app.get("/.well-known/tracee/tls-ask?domain=track.shop.example", status=200)
    assert app.get(PATH, headers=shop.headers).json["domain"] == "track.shop.example"


@pytest.mark.parametrize("query", ["", "?domain=", "?domain=nowhere.example",
                                   "?domain=tracee.test", "?domain=%00", "?domain=a%0a.example"])
def test_tls_ask_answers_404_to_anything_unverified(app, query):
    app.get(f"/.well-known/tracee/tls-ask{query}", status=404)


def test_an_agency_sets_a_clients_domain_which_waits_for_verification(dns, make_tenant):
    app, records = dns
    agency = make_tenant("agency", "Agency")
    client = app.post_json("/api/v1/clients/", {"slug": "vase", "name": "Vase",
                                                "domain": DOMAIN}, headers=agency.headers).json
    assert (client["domain"], client["pending_domain"]) == (None, DOMAIN)
    acting = {**agency.headers, "Tracee-Tenant": "vase"}
    token = app.get(PATH, headers=acting).json["txt_record"]["value"]
    records[f"_tracee-challenge.{DOMAIN}."] = [token]
    assert app.post(PATH + "/verify", headers=acting).json["domain"] == DOMAIN
    assert app.get("/api/v1/clients/vase/", headers=agency.headers).json["domain"] == DOMAIN
