"""The agency console: Clients, New client, switching into a client, and who may do what.

agency > client-a > (nothing yet), agency > client-b; loner on its own.
"""

import pytest
import sqlalchemy as sa
from logins import cheap_hashing, log_in, make_user  # noqa: F401

from tracee.tenancy.clients import list_clients

pytestmark = pytest.mark.usefixtures("cheap_hashing")

AGENCY, CLIENT, SIBLING = "agency", "client-a", "client-b"
CLIENTS = f"/dashboard/{AGENCY}/clients/"
PEOPLE = {  # who -> (tenant, role)
    "agency owner": (AGENCY, "owner"),
    "agency admin": (AGENCY, "admin"),
    "agency staff": (AGENCY, "staff"),
    "agency viewer": (AGENCY, "viewer"),
    "client owner": (CLIENT, "owner"),
    "client staff": (CLIENT, "staff"),
    "client viewer": (CLIENT, "viewer"),
    "sibling owner": (SIBLING, "owner"),
}


def email(who: str) -> str:
    return who.replace(" ", ".") + "@people.test"


@pytest.fixture
def agency(registry, make_tenant):
    made = {AGENCY: make_tenant(AGENCY, "Agency Co")}
    made[CLIENT] = make_tenant(CLIENT, "Client A", parent=AGENCY)
    made[SIBLING] = make_tenant(SIBLING, "Client B", parent=AGENCY)
    made["loner"] = make_tenant("loner", "Loner")
    for who, (slug, role) in PEOPLE.items():
        make_user(registry, email(who), made[slug].id, role)
    return made


def as_agency(agency, client=None) -> dict:
    headers = dict(agency[AGENCY].headers)
    if client:
        headers["Tracee-Tenant"] = client
    return headers


def csrf(app, slug) -> str:
    return app.get(f"/dashboard/{slug}/trackers/").forms[0]["csrf_token"].value


def breadcrumb(page):
    return page.html.find("nav", attrs={"aria-label": "Breadcrumb"})


def tenant_count(database) -> int:
    with database.admin_engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM tenants"))


# --- the role table ---------------------------------------------------------------

ALL_AGENCY = {"agency owner": 200, "agency admin": 200, "agency staff": 200,
              "agency viewer": 200}
MANAGERS_AGENCY = {"agency owner": 200, "agency admin": 200, "agency staff": 403,
                   "agency viewer": 403}
IN_CLIENT = {**ALL_AGENCY, "client owner": 200, "client staff": 200, "client viewer": 200}
MANAGERS_CLIENT = {**MANAGERS_AGENCY, "client owner": 200, "client staff": 403,
                   "client viewer": 403}
# Everyone not named is 404: a tenant they have no role in, on it or above it.
ROUTES = {
    f"/dashboard/{AGENCY}/clients/": ALL_AGENCY,
    f"/dashboard/{AGENCY}/clients/new": MANAGERS_AGENCY,
    f"/dashboard/{AGENCY}/settings/domain/": MANAGERS_AGENCY,
    f"/dashboard/{AGENCY}/trackers/": ALL_AGENCY,
    f"/dashboard/{CLIENT}/clients/": IN_CLIENT,
    f"/dashboard/{CLIENT}/clients/new": MANAGERS_CLIENT,
    f"/dashboard/{CLIENT}/settings/domain/": MANAGERS_CLIENT,
    f"/dashboard/{CLIENT}/settings/api-keys/": MANAGERS_CLIENT,
    f"/dashboard/{CLIENT}/trackers/": IN_CLIENT,
    f"/dashboard/{CLIENT}/clients/anything": {},
}
# POSTs with the person's own valid CSRF token and an empty form: what a permitted
# person gets (the form's own refusal) beside the 403s and 404s of the table above.
POSTS = {
    f"/dashboard/{AGENCY}/clients/new": (MANAGERS_AGENCY, 400),
    f"/dashboard/{CLIENT}/clients/new": (MANAGERS_CLIENT, 400),
    f"/dashboard/{CLIENT}/settings/domain/": (MANAGERS_CLIENT, 400),
    f"/dashboard/{CLIENT}/settings/domain/verify": (MANAGERS_CLIENT, 409),
    f"/dashboard/{CLIENT}/settings/domain/remove": (MANAGERS_CLIENT, 302),
    f"/dashboard/{SIBLING}/settings/domain/remove": ({**MANAGERS_AGENCY, "sibling owner": 200},
                                                    302),
}


@pytest.mark.parametrize("who", [*PEOPLE, "anonymous"])
def test_role_table(app, agency, database, who):
    if who != "anonymous":
        log_in(app, email(who))
    for path, expected in ROUTES.items():
        if who == "anonymous":
            answer = app.get(path, status=302)
            assert "/login?next=" in answer.location, path
            continue
        answer = app.get(path, expect_errors=True)
        assert answer.status_int == expected.get(who, 404), (who, path, answer.status)
        assert answer.headers["Cache-Control"] == "no-store"
    before = tenant_count(database)
    token = None if who == "anonymous" else csrf(app, PEOPLE[who][0])
    for path, (allowed, permitted_status) in POSTS.items():
        answer = app.post(path, {"csrf_token": token or "x" * 43}, expect_errors=True)
        if who == "anonymous":
            assert answer.status_int == 302 and "/login?next=" in answer.location, path
            continue
        status = expected = allowed.get(who, 404)
        if expected == 200:
            status = permitted_status
        assert answer.status_int == status, (who, path, answer.status)
    assert tenant_count(database) == before


def test_a_clients_own_people_never_see_the_agency_or_its_other_clients(app, agency):
    log_in(app, email("client owner"))
    for path in (f"/dashboard/{CLIENT}/trackers/", f"/dashboard/{CLIENT}/settings/",
                 f"/dashboard/{CLIENT}/clients/", f"/dashboard/{CLIENT}/settings/domain/"):
        page = app.get(path)
        assert "Agency Co" not in page.text and "Client B" not in page.text, path
        assert not breadcrumb(page), path
    missing = app.get("/dashboard/no-such/clients/", status=404)
    assert app.get(CLIENTS, status=404).text == missing.text
    assert app.get(f"/dashboard/{SIBLING}/trackers/", status=404).text == missing.text


# --- Clients ----------------------------------------------------------------------


def test_the_list_shows_each_client_with_the_apis_figures(app, agency, db_session):
    app.post_json("/api/v1/trackers/", {"name": "Open"}, headers=as_agency(agency, CLIENT))
    app.put_json("/api/v1/branding/domain", {"domain": "track.b.example"},
                 headers=as_agency(agency, SIBLING))
    log_in(app, email("agency viewer"))
    page = app.get(CLIENTS)
    rows = [[td.get_text(" ", strip=True) for td in tr.find_all("td")]
            for tr in page.html.find("tbody").find_all("tr")]
    listed = list_clients(db_session, agency[AGENCY].id)
    assert [c.slug for c, *_ in listed] == [CLIENT, SIBLING]
    assert rows[0][:3] == ["Client A client-a", "none", "1"]
    assert rows[1][:3] == ["Client B client-b", "track.b.example (waiting for verification)", "0"]
    when = listed[0][2]
    assert page.html.find("tbody").find("time")["datetime"] == when.isoformat()
    assert rows[1][3] == "none yet"
    links = [a["href"] for a in page.html.find("tbody").find_all("a")]
    assert links == [f"/dashboard/{CLIENT}/trackers/",
                     f"/dashboard/{CLIENT}/trackers/?status=in_progress",
                     f"/dashboard/{SIBLING}/trackers/",
                     f"/dashboard/{SIBLING}/trackers/?status=in_progress"]
    assert not page.html.find("a", string="New client")  # a viewer creates none
    # the list visited each client: the agency's own pages still show the agency's data
    assert "No trackers yet" in app.get(f"/dashboard/{AGENCY}/trackers/").text


def test_new_client_takes_its_slug_from_the_name_and_holds_its_domain(app, agency):
    log_in(app, email("agency admin"))
    form = app.get(CLIENTS).click("New client").forms["new-client-form"]
    form["name"] = "Blue Vase Ceramics"
    form["domain"] = "Track.BlueVase.example."
    listed = form.submit(status=302).follow()
    assert listed.request.path_qs == CLIENTS + "?created=blue-vase-ceramics"
    notice = listed.html.find(class_="notice").get_text(" ", strip=True)
    assert notice.startswith("Blue Vase Ceramics was created.")
    assert listed.html.find("a", string="verify its domain")["href"] == (
        "/dashboard/blue-vase-ceramics/settings/domain/")
    created = app.get("/api/v1/clients/blue-vase-ceramics/", headers=as_agency(agency)).json
    assert (created["name"], created["domain"], created["pending_domain"]) == (
        "Blue Vase Ceramics", None, "track.bluevase.example")
    # A second client of the same name gets the next free slug; an edited slug is kept.
    for slug, expected in (("", "blue-vase-ceramics-2"), ("vase", "vase"),
                           (" Vase-Two ", "vase-two")):
        form = app.get(CLIENTS + "new").forms["new-client-form"]
        form["name"], form["slug"] = "Blue Vase Ceramics", slug
        assert form.submit(status=302).location.endswith(f"?created={expected}")


def test_switching_into_a_client_shows_agency_and_client_on_every_page(app, agency):
    log_in(app, email("agency staff"))
    listed = app.get(CLIENTS)
    client_page = listed.click("Client A", index=0)
    assert client_page.request.path == f"/dashboard/{CLIENT}/trackers/"
    for path in ("trackers/", "trackers/new", "settings/", "clients/",
                 "settings/workflow-templates/"):
        page = app.get(f"/dashboard/{CLIENT}/{path}")
        trail = breadcrumb(page)
        assert trail.get_text(" ", strip=True) == "Agency Co › Client A", path
        assert trail.find("a", string="Agency Co")["href"] == CLIENTS
    # the agency's own pages have no trail
    assert not breadcrumb(app.get(CLIENTS))


def test_a_nested_clients_trail_starts_at_the_agency_the_member_belongs_to(app, agency,
                                                                            make_tenant,
                                                                            registry):
    make_tenant("sub", "Sub Shop", parent=CLIENT)
    log_in(app, email("agency owner"))
    trail = breadcrumb(app.get("/dashboard/sub/trackers/"))
    assert trail.get_text(" ", strip=True) == "Agency Co › Client A › Sub Shop"
    assert [a["href"] for a in trail.find_all("a")][:2] == [
        CLIENTS, f"/dashboard/{CLIENT}/clients/"]
    app.reset()
    log_in(app, email("client owner"))
    trail = breadcrumb(app.get("/dashboard/sub/trackers/"))
    assert trail.get_text(" ", strip=True) == "Client A › Sub Shop"


def test_the_switcher_lists_the_agencys_clients_under_it(app, agency, registry):
    make_user(registry, email("agency owner"), agency["loner"].id, "viewer")
    log_in(app, email("agency owner"))
    switcher = app.get(CLIENTS).html.find("details", class_="switcher")
    entries = [(li["class"][0], a.get_text(" ", strip=True), a["href"])
               for li in switcher.find_all("li") for a in li.find_all("a")]
    assert entries == [
        ("level-0", "Agency Co", f"/dashboard/{AGENCY}/trackers/"),
        ("level-1", "Client A (client of Agency Co)", f"/dashboard/{CLIENT}/trackers/"),
        ("level-1", "Client B (client of Agency Co)", f"/dashboard/{SIBLING}/trackers/"),
        ("level-0", "Loner", "/dashboard/loner/trackers/"),
    ]
    app.reset()
    log_in(app, email("client owner"))  # one tenant, nothing below: no switcher
    assert not app.get(f"/dashboard/{CLIENT}/trackers/").html.find("details", class_="switcher")


@pytest.mark.parametrize(("who", "slug", "shown"), [
    ("agency viewer", AGENCY, True),  # it has clients
    ("agency viewer", CLIENT, False),  # none below it, and a viewer creates none
    ("agency owner", CLIENT, True),  # may make it an agency in turn
    ("client owner", CLIENT, True),
    ("client staff", CLIENT, False),
])
def test_the_clients_item_is_shown_where_there_are_or_may_be_clients(app, agency, who, slug,
                                                                      shown):
    log_in(app, email(who))
    nav = app.get(f"/dashboard/{slug}/trackers/").html.find("nav", attrs={"aria-label": "Main"})
    assert bool(nav.find("a", string="Clients")) is shown


def test_no_item_and_a_clear_refusal_three_levels_down(app, agency, make_tenant, registry,
                                                       database):
    make_tenant("sub", "Sub Shop", parent=CLIENT)
    log_in(app, email("agency owner"))
    nav = app.get("/dashboard/sub/trackers/").html.find("nav", attrs={"aria-label": "Main"})
    assert not nav.find("a", string="Clients")
    form = app.get("/dashboard/sub/clients/new")
    assert "at most 3 levels deep" in form.html.find(class_="form-error").get_text()
    before = tenant_count(database)
    refused = app.post("/dashboard/sub/clients/new", {"name": "Deeper", "slug": "deeper",
                                                      "csrf_token": csrf(app, "sub")}, status=400)
    assert "at most 3 levels deep" in refused.html.find(class_="form-error").get_text()
    assert tenant_count(database) == before


@pytest.mark.parametrize(("fields", "status", "field", "says"), [
    ({"name": ""}, 400, "name", "Name must not be empty"),
    ({"name": "a\u200bb"}, 400, "name", "invisible"),
    ({"name": "x" * 201}, 400, "name", "at most 200"),
    ({"name": "Shop", "slug": "Not A Slug"}, 400, "slug", "lower-case letters"),
    ({"name": "Shop", "slug": CLIENT}, 409, "slug", "already exists"),
    ({"name": "Shop", "domain": "not a host"}, 400, "domain", "not a valid host name"),
    ({"name": "Shop", "domain": "api.tracee.test"}, 400, "domain", "platform's own"),
    ({"name": "Shop", "domain": "taken.example"}, 409, "domain", "belongs to another"),
])
def test_bad_fields_are_named_beside_them_and_nothing_is_created(app, agency, make_tenant,
                                                                database, fields, status,
                                                                field, says):
    make_tenant("holder", domain="taken.example")
    log_in(app, email("agency owner"))
    before = tenant_count(database)
    form = app.get(CLIENTS + "new").forms["new-client-form"]
    for name, value in fields.items():
        form[name] = value
    page = form.submit(status=status)
    error = page.html.find(id=f"f-{field}-error")
    assert says in error.get_text(), error
    assert page.html.find(id=f"f-{field}")["aria-invalid"] == "true"
    assert page.html.find(id="f-name")["value"] == fields["name"]  # kept for correcting
    assert tenant_count(database) == before


def test_new_client_without_its_csrf_token_creates_nothing(app, agency, database):
    log_in(app, email("agency owner"))
    before = tenant_count(database)
    app.post(CLIENTS + "new", {"name": "Sneaky"}, status=400)
    app.post(CLIENTS + "new", {"name": "Sneaky", "csrf_token": "x" * 43}, status=400)
    # someone else's token (another session's) is no better
    other = app.__class__(app.app)
    log_in(other, email("agency admin"))
    app.post(CLIENTS + "new", {"name": "Sneaky", "csrf_token": csrf(other, AGENCY)}, status=400)
    assert tenant_count(database) == before


def test_the_agency_runs_a_client_as_its_owner_would(app, agency):
    log_in(app, email("agency admin"))
    token = csrf(app, CLIENT)
    app.post(f"/dashboard/{CLIENT}/trackers/new",
             {"name": "Order #7 - Mug", "template": "3d-printing", "csrf_token": token},
             status=302)
    app.post(f"/dashboard/{CLIENT}/settings/api-keys/new",
             {"name": "Shop server", "csrf_token": token}, status=200)
    app.post(f"/dashboard/{CLIENT}/settings/domain/",
             {"domain": "track.clienta.example", "csrf_token": token}, status=302)
    seen = app.get(f"/api/v1/clients/{CLIENT}/", headers=as_agency(agency)).json
    assert (seen["open_trackers"], seen["pending_domain"]) == (1, "track.clienta.example")
    # ... and the client's own tracker is not the agency's
    assert app.get("/api/v1/trackers/", headers=as_agency(agency)).json == []


def test_what_a_client_is_called_is_escaped_everywhere_it_is_shown(app, agency):
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    app.post_json("/api/v1/clients/", {"slug": "hostile", "name": hostile},
                  headers=as_agency(agency), status=201)
    log_in(app, email("agency owner"))
    for path in (CLIENTS, "/dashboard/hostile/trackers/", "/dashboard/hostile/settings/domain/"):
        page = app.get(path)
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text, path
        assert hostile in page.html.get_text(), path  # shown, as text
