"""Searching trackers by name: the suffix index (PostgreSQL) answers what the scan answers.

On PostgreSQL a search looks a term up in ``tracker_name_suffixes`` (kept by
a trigger, see migration 0007) unless the term is common in the tenant; the
scan (``lower(name) LIKE '%term%'``) is what SQLite always does and the
reference here. Every test runs on both databases.
"""

import pytest
import sqlalchemy as sa

from tracee.tracking import search
from tracee.tracking.search import search_trackers

NAMES = [
    "Order #5678 - Custom Chess Set",
    "Café Crème for Zoë",
    "ÉCOLE Ωmega ΣΟΦΙΑ",
    "Straße 100% Cotton",
    "under_score and a%b_c\\d",
    "back\\slash \\\\ double",
    "aaaaaaaaaaaaaaaaaaaaaaaa",
    "abcdefghijklmnopqrstuvwxyz 0123456789",
    "Mixed CASE Name",
    "x",
    "日本語の注文 #77",
    "🙂 emoji gift",
    "spaced   out  name",
    "Order #31 - Blue Vase",
]
TERMS = [
    "a", "A", "o", "x", "ch", "Ch", "%", "_", "\\", "a%b", "_c", "c\\d", "\\\\", "% C",
    "é", "É", "cafe", "café", "CAFÉ", "crème for", "ωmega", "σοφια", "straße", "ss", "日本",
    "語", "🙂", "chess set", "CUSTOM CHESS SET", "custom chess seT", "abcdefghijklmnopqrstuvwxyz",
    "defghijklmnopq", "ghijklmnopqrs", "aaaaaaaaaaaa", "aaaaaaaaaaaaa", "a" * 24, "a" * 25,
    "5678", "#5678", "31", "#31", "77", "1000", "spaced   out", "d out", "xyz 01", "z 0123456789",
    "nothing like it", "ase", "name", "e",
]


@pytest.fixture
def named(create, tenant, other_tenant, app):
    """Every name for ``tenant``; the same names, and more, for ``other_tenant``."""
    ids = {}
    for name in NAMES:
        extra = {"number": 31} if name.startswith("Order #31") else {}
        ids[create(name, template=None, **extra)["id"]] = name
    for name in NAMES + ["Their Chess Set", "Their café"]:
        app.post_json("/api/v1/trackers/", {"name": name}, headers=other_tenant.headers,
                      status=201)
    return ids


def _found(session, q, **kw):
    total, rows = search_trackers(session, q, **kw)
    return total, [t.id for t in rows]


def _scanned(session, monkeypatch, q, **kw):
    """The same search, with every term taken as common: the scan, never the index."""
    with monkeypatch.context() as patch:
        patch.setattr(search, "COMMON_TERM_ROWS", 0)
        return _found(session, q, **kw)


@pytest.mark.parametrize("term", TERMS)
def test_the_index_finds_what_the_scan_finds(named, tenant, tenant_session, monkeypatch, term):
    session = tenant_session(tenant.id)
    found = _found(session, term, per_page=100)
    assert found == _scanned(session, monkeypatch, term, per_page=100)
    assert set(found[1]) <= set(named)  # never another tenant's


def test_a_common_beginning_is_looked_up_by_the_terms_end(named, tenant, tenant_session,
                                                         monkeypatch, create):
    """With "common" meaning two rows, long terms whose first characters are
    common take their last ones, short ones scan; the answers stay the same."""
    for name in ("Order #5679 - Custom Chess Sets", "Order #5670 - custom chess seat"):
        create(name, template=None)
    session = tenant_session(tenant.id)
    extra = ["order #5679 - custom", "custom chess sets", "m chess se", "- custom chess"]
    for term in [*TERMS, *extra]:
        with monkeypatch.context() as patch:
            patch.setattr(search, "COMMON_TERM_ROWS", 2)
            found = _found(session, term, per_page=100)
        assert found == _scanned(session, monkeypatch, term, per_page=100), term
    assert _found(session, "custom chess sets")[0] == 1


def test_ascii_matches_are_case_insensitive_substrings_or_the_number(named, tenant,
                                                                    tenant_session):
    """What the API documents for ``q``, checked against Python's own ``in``."""
    session = tenant_session(tenant.id)
    number_of = {tid: (31 if name.startswith("Order #31") else None) for tid, name in
                 named.items()}
    for term in TERMS:
        if not term.isascii():
            continue
        digits = term.lstrip("#")
        expected = {
            tid for tid, name in named.items()
            if name.isascii() and term.lower() in name.lower()
            or digits.isdigit() and number_of[tid] == int(digits)
        }
        _, ids = _found(session, term, per_page=100)
        ascii_ids = {tid for tid in ids if named[tid].isascii()}
        assert ascii_ids == expected, term


def test_non_ascii_terms_find_names_spelled_so(named, tenant, tenant_session):
    session = tenant_session(tenant.id)
    by_name = {name: tid for tid, name in named.items()}
    for term, name in [("café", "Café Crème for Zoë"), ("zoë", "Café Crème for Zoë"),
                       ("straße", "Straße 100% Cotton"), ("日本", "日本語の注文 #77"),
                       ("語の注", "日本語の注文 #77"), ("🙂", "🙂 emoji gift")]:
        assert _found(session, term)[1] == [by_name[name]], term


def test_pages_counts_and_status_agree_with_the_scan(named, tenant, tenant_session, monkeypatch,
                                                     create):
    session = tenant_session(tenant.id)
    for term in ("a", "e", "o", "aaaaaaaaaaaaa", "order"):
        for page in (1, 2, 3):
            for completed in (None, False, True):
                kw = {"page": page, "per_page": 2, "completed": completed}
                assert _found(session, term, **kw) == _scanned(session, monkeypatch, term, **kw)


def test_wildcards_and_the_escape_character_are_literal(named, tenant, tenant_session):
    session = tenant_session(tenant.id)
    by_name = {name: tid for tid, name in named.items()}
    assert _found(session, "a%b_c\\d")[1] == [by_name["under_score and a%b_c\\d"]]
    assert _found(session, "%")[1] == [by_name["under_score and a%b_c\\d"],
                                       by_name["Straße 100% Cotton"]]
    assert _found(session, "\\\\")[1] == [by_name["back\\slash \\\\ double"]]
    assert _found(session, "_c")[1] == [by_name["under_score and a%b_c\\d"]]


def test_a_search_never_shows_another_tenants_trackers(named, app, tenant, other_tenant):
    mine = set(named)
    for term in ("chess", "their", "café", "a", "%", "31", "🙂", "abcdefghijklmnopqrstuvwxyz"):
        response = app.get("/api/v1/trackers/", {"q": term, "per_page": "100"},
                           headers=tenant.headers)
        ids = {t["id"] for t in response.json}
        names = {t["name"] for t in response.json}
        assert ids <= mine and not any(n.startswith("Their") for n in names), term
        assert response.headers["X-Total-Count"] == str(len(ids)), term
    theirs = app.get("/api/v1/trackers/", {"q": "their"}, headers=other_tenant.headers).json
    assert sorted(t["name"] for t in theirs) == ["Their Chess Set", "Their café"]


def test_postgresql_answers_from_the_suffix_index(database, named, tenant, tenant_session):
    """Emptied behind its back, the index finds nothing: the search really reads it
    (and a common term, scanned, still finds its trackers)."""
    if database.kind != "postgresql":
        pytest.skip("the suffix index is PostgreSQL's; SQLite scans")
    session = tenant_session(tenant.id)
    assert _found(session, "chess")[0] == 1
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM tracker_name_suffixes"))
    session.rollback()
    assert _found(session, "chess") == (0, [])


def _suffix_rows(database, tenant_id, tracker_id):
    with database.admin_engine.connect() as conn:
        return set(conn.scalars(sa.text(
            "SELECT suffix FROM tracker_name_suffixes WHERE tenant_id = :t AND tracker_id = :i"),
            {"t": tenant_id, "i": tracker_id}))


def test_the_trigger_keeps_the_index_with_the_name(database, create, tenant):
    if database.kind != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    tracker = create("Ab Cd", template=None)
    assert _suffix_rows(database, tenant.id, tracker["id"]) == {"ab cd", "b cd", "cd", "d"}
    long = create("Order #12 - Lamp Shade", template=None)
    assert "order #12 - " in _suffix_rows(database, tenant.id, long["id"])  # cut to 12
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("UPDATE trackers SET name = 'Xy' WHERE tenant_id = :t AND id = :i"),
                     {"t": tenant.id, "i": tracker["id"]})
    assert _suffix_rows(database, tenant.id, tracker["id"]) == {"xy", "y"}
    with database.admin_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM trackers WHERE tenant_id = :t AND id = :i"),
                     {"t": tenant.id, "i": tracker["id"]})
        conn.execute(sa.text("DELETE FROM tenants WHERE id = :t"), {"t": tenant.id})
    with database.admin_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM tracker_name_suffixes "
                                   "WHERE tenant_id = :t"), {"t": tenant.id}) == 0
