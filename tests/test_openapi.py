"""The OpenAPI document: valid, complete, truthful (schemathesis over real HTTP)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import colander
import jsonschema
import pytest
import requests
from dns_server import dns_server
from live_server import serve
from openapi_spec_validator import validate

from tracee.api.idempotent import DOCUMENTED_PATTERN
from tracee.api.jsonschema import node_schema
from tracee.api.openapi import build_document
from tracee.api.schemas import text_node
from tracee.api.v1.shapes import SCHEMAS

SPEC = "/api/v1/openapi.json"
PUBLIC = "93.184.216.34"  # an address literal: checked, never resolved, never sent to
ST_CONFIG = Path(__file__).with_name("schemathesis.toml")
# Bounded and seeded: the same few hundred requests per run, well under a minute.
ST_ARGS = ["--checks", "all", "--mode", "all", "--max-examples", "20", "--seed", "1",
           "--no-color", "--workers", "1"]


@pytest.fixture
def spec(app):
    return app.get(SPEC).json


def test_the_document_is_public_and_valid_openapi(app, spec):
    response = app.get(SPEC)  # no key
    assert response.content_type == "application/json"
    assert "X-RateLimit-Limit" not in response.headers
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert spec["servers"] == [{"url": "https://tracee.test/api/v1"}]
    assert app.get("/api/v1/openapi.json/").json == spec


def test_every_route_and_method_is_documented(spec, registry):
    served = set()
    for registered, service in registry.cornice_services.items():
        path = "/" + registered.removeprefix("api/v1/").replace("{_slash:/?}", "/")
        served |= {(path, method.lower()) for method, _, _ in service.definitions
                   if method != "HEAD"}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == served
    assert ("/trackers/{id}/status/", "post") in documented


def test_keys_rate_limits_and_idempotency_are_described(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {**schemes["ApiKeyHeader"], "in": "header",
                                       "name": "X-API-Key"}
    assert schemes["ApiKeyQuery"]["in"] == "query" and schemes["ApiKeyQuery"]["name"] == "api_key"
    qr = spec["paths"]["/trackers/{id}/qr/"]["get"]
    assert qr["security"] == [{"ApiKeyHeader": []}, {"ApiKeyQuery": []}]
    create = spec["paths"]["/trackers/"]["post"]
    assert create["security"] == [{"ApiKeyHeader": []}]
    # 404: a Tracee-Tenant the key may not act for.
    assert set(create["responses"]) == {"201", "400", "401", "404", "409", "413", "422", "429"}
    too_many = create["responses"]["429"]["headers"]
    assert all(too_many[h]["required"] for h in ("Retry-After", "X-RateLimit-Limit",
                                                 "X-RateLimit-Remaining", "X-RateLimit-Reset"))
    assert create["responses"]["201"]["headers"]["Location"]["required"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            names = {p.get("name") for p in operation.get("parameters", [])}
            assert ("Idempotency-Key" in names) == (method == "post"), (method, path)
            assert ("Tracee-Tenant" in names) == bool(operation["security"]), (method, path)


def _validator(spec, schema):
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]},
                                           format_checker=jsonschema.FormatChecker())


def test_the_examples_fit_their_schemas(spec):
    checked = 0
    for item in spec["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and "example" in body:
                _validator(spec, body["schema"]).validate(body["example"])
                checked += 1
            for response in operation["responses"].values():
                media = response.get("content", {}).get("application/json", {})
                if "example" in media:
                    _validator(spec, media["schema"]).validate(media["example"])
                    checked += 1
    assert checked >= 8


def test_the_seed_documents_calls_are_the_documents_examples(spec):
    create = spec["paths"]["/trackers/"]["post"]["requestBody"]["content"]["application/json"]
    assert create["example"] == {"name": "Order #5678 - Custom Chess Set",
                                 "template": "3d-printing"}
    template = spec["paths"]["/templates/{slug}/"]["get"]["responses"]["200"]
    assert [s["name"] for s in template["content"]["application/json"]["example"]["steps"]][:2] \
        == ["Preparing/Slicing", "3D Printing"]


@pytest.mark.parametrize("text", [
    "a", " a ", "\ta\n", "\x1ca\x85", "\u3000a\u2029", "a b", "a\u00a0b", "é" * 200,
    " " + "x" * 200 + "\n", "", "   ", "\n\t", "a\tb", "a\x00", "x" * 201, "a\x85b", "a\x7fb",
])
def test_a_text_fields_pattern_says_what_the_server_accepts(text):
    node = text_node(200, name="name")
    try:
        node.deserialize(node.preparer(text))
        accepted = True
    except colander.Invalid:
        accepted = False
    assert bool(re.search(node_schema(node)["pattern"], text)) == accepted


def test_a_view_without_its_declaration_stops_the_document(registry):
    class Service:
        name, path, factory = "bare", "/bare{_slash:/?}", None
        definitions = [("GET", lambda request: {}, {})]

    class Registry:
        cornice_services = {**registry.cornice_services, "api/v1/bare{_slash:/?}": Service}

    with pytest.raises(LookupError, match="has no @operation"):
        build_document(Registry, "https://tracee.test", SCHEMAS)


# --- what the document made the server say precisely -------------------------


@pytest.mark.parametrize("query", ["page=%2B2", "page=%202", "page=2_0", "page=%D9%A5",
                                   "per_page=", "completed=TRUE", "completed=", "page=1.0"])
def test_query_numbers_and_booleans_are_spelled_as_documented(app, tenant, query):
    refused = app.get(f"/api/v1/trackers/?{query}", headers=tenant.headers, status=400).json
    assert refused["errors"][0]["location"] == "querystring"


def test_qr_size_is_ascii_digits(app, tenant, create):
    tracker = create()
    app.get(f"/api/v1/trackers/{tracker['id']}/qr/?size=%2B300", headers=tenant.headers,
            status=400)
    assert app.get(f"/api/v1/trackers/{tracker['id']}/qr/?size=0300",
                   headers=tenant.headers).content_type == "image/png"


def test_an_integral_json_number_is_an_integer(app, tenant):
    created = app.post_json("/api/v1/trackers/", {"name": "Order", "number": 214.0},
                            headers=tenant.headers, status=201).json
    assert created["number"] == 214 and isinstance(created["number"], int)


@pytest.mark.parametrize("key", ["", " ", "a" * 256, "é", "a\tb"])
def test_a_malformed_idempotency_key_is_refused(app, tenant, database, key):
    refused = app.post_json("/api/v1/trackers/", {"name": "x"}, status=400,
                            headers={**tenant.headers, "Idempotency-Key": key}).json
    [error] = refused["errors"]
    assert (error["location"], error["name"]) == ("header", "Idempotency-Key")
    assert app.get("/api/v1/trackers/", headers=tenant.headers).json == []


@pytest.mark.parametrize("key", ["a", "a" * 255, "4f1c-9b2e", "order 1234/retry"])
def test_a_well_formed_idempotency_key_is_accepted(app, tenant, key):
    assert re.fullmatch(DOCUMENTED_PATTERN, key)
    app.post_json("/api/v1/trackers/", {"name": "x"}, status=201,
                  headers={**tenant.headers, "Idempotency-Key": key})


# --- schemathesis --------------------------------------------------------------


def test_schemathesis_finds_nothing(database, make_tenant, tmp_path):
    """Every check schemathesis has, positive and negative data, over real HTTP."""
    # Custom domains are verified against a DNS server of the test's own, which
    # answers at once, never against the machine's resolvers.
    with dns_server() as (port, _records), \
            serve(database, **{"tracee.domains.resolvers": f"127.0.0.1:{port}"}) as (url, app):
        # A limit that never interferes; the 429 answer is in the document all the same.
        key = make_tenant("schemathesis", rate_limit="1000000/minute").key
        # A webhook endpoint and a queued delivery (no worker runs: nothing is
        # sent), so the ids schemathesis tries first name something real.
        auth = {"X-API-Key": key}
        hook = requests.post(url + "/api/v1/webhooks/", json={"url": f"https://{PUBLIC}/h"},
                             headers=auth, timeout=10).json()
        requests.post(f"{url}/api/v1/webhooks/{hook['id']}/test/", headers=auth, timeout=10)
        st = Path(sys.executable).with_name("st")
        result = subprocess.run(
            [str(st), "--config-file", str(ST_CONFIG), "run", url + SPEC,
             "--header", f"X-API-Key: {key}", *ST_ARGS],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,  # its cache goes there
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert re.search(r"\d+ generated, \d+ passed", result.stdout), result.stdout[-3000:]
