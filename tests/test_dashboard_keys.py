"""Settings -> API Keys: generate (shown once), list, revoke; owners and admins only."""

import pytest
import sqlalchemy as sa
from logins import cheap_hashing, log_in, make_user, owner  # noqa: F401

from tracee.api.keys import KEY_LENGTH

pytestmark = pytest.mark.usefixtures("cheap_hashing")
KEYS = "/dashboard/acme/settings/api-keys/"


def key_count(database) -> int:
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM api_keys"))


def generate(app, name="Production Server", status=200):
    form = app.get(KEYS).click("Generate New Key").forms["new-key-form"]
    form["name"] = name
    return form.submit(status=status)


def test_generate_shows_the_key_once_and_it_works(app, owner):
    page = generate(app)
    secret = page.html.find(id="new-key").get_text()
    assert len(secret) == KEY_LENGTH and secret.startswith("tk_live_")
    assert "Copy and store the key securely - it won't be shown again!" in page.text
    assert page.html.find("button", string="Copy key")
    assert page.headers["Cache-Control"] == "no-store"
    row = [r for r in page.html.find_all("tr") if "Production Server" in r.get_text()][0]
    assert f"tk_live_{secret[8:12]}…{secret[-4:]}" in row.get_text()
    assert "Never" in row.get_text() and "Active" in row.get_text()
    # the seed's call works with it
    created = app.post_json("/api/v1/trackers/", {"name": "Order #5678 - Custom Chess Set",
                                                  "template": "3d-printing"},
                            headers={"X-API-Key": secret}, status=201).json
    assert created["name"] == "Order #5678 - Custom Chess Set"
    again = app.get(KEYS)
    assert secret not in again.text and secret[8:-4] not in again.text
    assert "Never" not in [r for r in again.html.find_all("tr")
                           if "Production Server" in r.get_text()][0].get_text()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "bell\x07"])
def test_a_bad_name_is_named_next_to_the_field(app, owner, database, name):
    before = key_count(database)
    page = generate(app, name, status=400)
    assert "Give the key a name" in page.html.find(id="f-name-error").get_text()
    assert page.html.find(id="f-name")["aria-invalid"] == "true"
    assert key_count(database) == before


def test_generate_without_its_csrf_token_creates_nothing(app, owner, database):
    before = key_count(database)
    app.post(KEYS + "new", {"name": "Sneaky"}, status=400)
    app.post(KEYS + "new", {"name": "Sneaky", "csrf_token": "x" * 43}, status=400)
    assert key_count(database) == before


def test_revoke_asks_then_takes_effect_at_once(app, owner):
    secret = generate(app).html.find(id="new-key").get_text()
    headers = {"X-API-Key": secret}
    app.get("/api/v1/trackers/", headers=headers, status=200)
    confirm = app.get(KEYS).click(description="Revoke", href=r"/2/revoke$")
    assert "stops working at once" in confirm.text
    # without its token, nothing happens
    app.post(confirm.forms["revoke-form"].action, status=400)
    app.get("/api/v1/trackers/", headers=headers, status=200)
    listing = confirm.forms["revoke-form"].submit(status=302).follow()
    app.get("/api/v1/trackers/", headers=headers, status=401)
    assert "Revoked" in listing.text


@pytest.mark.parametrize("role", ["staff", "viewer"])
def test_staff_and_viewers_can_neither_generate_nor_revoke(app, registry, tenant, database,
                                                           role):
    make_user(registry, f"{role}@acme.test", tenant.id, role)
    log_in(app, f"{role}@acme.test")
    token = app.get("/dashboard/acme/trackers/").forms[0]["csrf_token"].value
    before = key_count(database)
    app.get(KEYS + "new", status=403)
    app.post(KEYS + "new", {"name": "Mine", "csrf_token": token}, status=403)
    app.get(KEYS + f"{tenant.key_id}/revoke", status=403)
    app.post(KEYS + f"{tenant.key_id}/revoke", {"csrf_token": token}, status=403)
    assert key_count(database) == before
    app.get("/api/v1/trackers/", headers=tenant.headers, status=200)


def test_another_tenants_key_is_not_found(app, registry, tenant, other_tenant):
    make_user(registry, "owner@globex.test", other_tenant.id, "owner")
    log_in(app, "owner@globex.test")
    token = app.get("/dashboard/globex/trackers/").forms[0]["csrf_token"].value
    theirs = f"/dashboard/globex/settings/api-keys/{tenant.key_id}/revoke"
    app.get(theirs, status=404)
    app.post(theirs, {"csrf_token": token}, status=404)
    for odd in (2**40, "%C2%B2", "-1", "1.0"):  # huge, a superscript two, not ids
        app.get(f"/dashboard/globex/settings/api-keys/{odd}/revoke", status=404)
    app.get("/api/v1/trackers/", headers=tenant.headers, status=200)
