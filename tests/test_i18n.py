"""The customer's language and time: the choice, the pages, the catalogs."""

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from test_live_progress import counted_queries
from test_pages_http import hidden as hidden  # noqa: F401  (fixture)
from webob import Request

from tracee.i18n import LANGUAGES, format_datetime, negotiate, translations

ROOT = Path(__file__).parent.parent
LOCALE = ROOT / "tracee" / "locale"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")


def _status(app, tenant, tracker, process, action):
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": process, "action": action}, headers=tenant.headers, status=200)


def _theme(app, tenant, body, status=200):
    return app.put_json("/api/v1/branding/", body, headers=tenant.headers, status=status)


@pytest.fixture
def printing(app, tenant, create):
    """The built-in 3D printing template: first step done, the second under way."""
    made = create(name="Order #1234 - Blue Vase")
    _status(app, tenant, made, "Preparing/Slicing", "complete")
    _status(app, tenant, made, "3D Printing", "start")
    return made


def _paths(tracker):
    token = tracker["tracking_token"]
    return f"/track/{token}", f"/embed/{token}/"


# --- choosing the language --------------------------------------------------------

# (?lang=, tenant's fixed language, Accept-Language, tenant's default) -> the page's
PRECEDENCE = [
    (None, None, None, None, "en"),
    ("de", None, None, None, "de"),
    ("de", "fr", "it", "nl", "de"),  # ?lang= wins over everything
    (None, "fr", "it", "nl", "fr"),  # then the tenant's fixed language
    (None, None, "it", "nl", "it"),  # then the browser's
    (None, None, "pt-BR, ja;q=0.5", "nl", "nl"),  # none of ours asked for: the default
    (None, None, None, "nl", "nl"),
    (None, None, "pt", None, "en"),
    ("xx", None, "es", None, "es"),  # an unknown ?lang= is no choice
    ("DE-at", None, None, None, "de"),
    (None, None, "fr;q=0.4, de-CH;q=0.9, en;q=0.1", None, "de"),  # q-values, not order
    (None, None, "de;q=0, es", None, "es"),  # q=0: not this one
    (None, None, "*", "it", "it"),
    (None, None, "garbage;;;q=x", "es", "es"),  # an unreadable header is no choice
]


@pytest.mark.parametrize(("query", "fixed", "accept", "default", "expected"), PRECEDENCE)
def test_the_order_of_the_choice(query, fixed, accept, default, expected):
    request = Request.blank("/track/x" + (f"?lang={query}" if query else ""),
                            headers={"Accept-Language": accept} if accept else {})
    assert negotiate(request, {"language": fixed, "default_language": default}) == expected


@pytest.mark.parametrize(("query", "fixed", "accept", "default", "expected"),
                         [row for row in PRECEDENCE if row[0] != "DE-at"][:7])
def test_the_pages_follow_the_choice(app, tenant, printing, query, fixed, accept, default,
                                     expected):
    _theme(app, tenant, {"language": fixed, "default_language": default})
    for path in _paths(printing):
        page = app.get(path, {"lang": query} if query else {},
                       headers={"Accept-Language": accept} if accept else {})
        assert page.html.find("html")["lang"] == expected
        assert page.html.find("main")["data-progress"].endswith(f"progress.json?lang={expected}")
        assert "Accept-Language" in page.headers["Vary"]


def test_a_german_page(app, printing):
    for path in _paths(printing):
        page = app.get(path + "?lang=de")
        text = page.html.get_text(" ", strip=True)
        assert page.html.find("html")["lang"] == "de"
        assert "Aktueller Schritt" in text
        assert "Bestellung Nr. " in text
        assert "1 von 5 Schritten erledigt" in text
        assert page.html.find("ol")["aria-label"] == "Schritte"
        assert "Current step" not in text and "steps done" not in text
    page = app.get(_paths(printing)[0] + "?lang=de")
    text = page.html.get_text(" ", strip=True)
    for phrase in ("Erledigt", "In Arbeit", "Ausstehend", "seit", "Letzte Aktualisierung",
                   "Laden Sie diese Seite neu", "QR-Code für diese Seite anzeigen",
                   "Statusverfolgung von Acme Prints"):
        assert phrase in text, phrase
    main = page.html.find("main")
    assert main["data-text-live"] == "Diese Seite aktualisiert sich selbst."
    assert main["data-text-since"] == "seit %(when)s"
    embed = app.get(_paths(printing)[1] + "?lang=de")
    assert "Vollständige Statusseite öffnen" in embed.text


def test_a_french_browser_gets_french_pages(app, printing):
    french = {"Accept-Language": "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7"}
    page, embed = (app.get(path, headers=french) for path in _paths(printing))
    assert page.html.find("html")["lang"] == embed.html.find("html")["lang"] == "fr"
    for response in (page, embed):
        text = response.html.get_text(" ", strip=True)
        assert "Étape en cours" in text and "1 sur 5 étapes terminées" in text
        assert "Commande n° " in text
    assert "Afficher le code QR de cette page" in page.text
    assert "Ouvrir la page de suivi complète" in embed.text


def test_the_progress_view_speaks_the_pages_language(app, tenant, printing):
    token = printing["tracking_token"]
    body = app.get(f"/track/{token}/progress.json?lang=es").json
    assert body["progress_text"] == "1 de 5 pasos completados"
    assert [s["label"] for s in body["steps"][:3]] == ["Hecho", "En curso", "En espera"]
    assert body["headline"] == "3D Printing"  # the shop's step name, not ours to translate
    _status(app, tenant, printing, "3D Printing", "complete")
    body = app.get(f"/track/{token}/progress.json?lang=it").json
    assert body["headline"] == "3D Printing: completato"
    assert app.get(f"/track/{token}/progress.json",
                   headers={"Accept-Language": "nl"}).json["steps"][0]["label"] == "Klaar"


def test_an_idle_poll_in_any_language_is_answered_in_front(app, printing):
    url = f"/track/{printing['tracking_token']}/progress.json?lang=de"
    etag = app.get(url).headers["ETag"]
    with counted_queries(app.app) as queries:
        app.get(url, headers={"If-None-Match": etag}, status=304)
        app.get(url.replace("lang=de", "lang=nl"), headers={"If-None-Match": etag}, status=304)
    assert queries == []


def test_error_pages_speak_the_customers_language(app):
    missing = "/track/00000000-0000-4000-8000-000000000000"
    page = app.get(missing, headers={"Accept-Language": "nl"}, status=404)
    assert page.html.find("html")["lang"] == "nl"
    assert "We konden die bestelling niet vinden" in page.text
    page = app.get(missing + "?lang=it", status=404)
    assert "Non abbiamo trovato questo ordine" in page.text
    assert app.get("/embed/nothing/", status=404).html.find("html")["lang"] == "en"


# --- plurals ----------------------------------------------------------------------

STEPS_DONE = {
    "en": ("0 of 1 step done", "2 of 5 steps done"),
    "de": ("0 von 1 Schritt erledigt", "2 von 5 Schritten erledigt"),
    "fr": ("0 sur 1 étape terminée", "2 sur 5 étapes terminées"),
    "es": ("0 de 1 paso completado", "2 de 5 pasos completados"),
    "it": ("0 di 1 fase completata", "2 di 5 fasi completate"),
    "nl": ("0 van 1 stap klaar", "2 van 5 stappen klaar"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_forms(lang):
    catalog = translations(lang)
    one, many = (catalog.ngettext("%(done)s of %(total)s step done",
                                  "%(done)s of %(total)s steps done", total)
                 % {"done": done, "total": total} for done, total in ((0, 1), (2, 5)))
    assert (one, many) == STEPS_DONE[lang]


def test_a_one_step_order_says_step_not_steps(app, tenant):
    app.post_json("/api/v1/templates/", {"slug": "single", "name": "Single",
                                         "steps": [{"name": "Make"}]},
                  headers=tenant.headers, status=201)
    made = app.post_json("/api/v1/trackers/", {"name": "One", "template": "single"},
                         headers=tenant.headers, status=201).json
    text = app.get(f"/track/{made['tracking_token']}?lang=de").html.get_text(" ", strip=True)
    assert "0 von 1 Schritt erledigt" in text


# --- the shop's words: step labels per language -----------------------------------


def test_step_labels_per_language_fall_back_to_the_default_label(app, tenant, printing):
    _theme(app, tenant, {"steps": [{
        "template": "3d-printing", "step": "3D Printing", "label": "Shaping your vase",
        "labels": {"de": "Ihre Vase entsteht", "fr": "Votre vase prend forme"},
        "description": "Layer by layer.", "descriptions": {"de": "Schicht für Schicht."}}]})
    page, _ = _paths(printing)
    german = app.get(page + "?lang=de").html
    assert german.find(class_="headline").get_text() == "Ihre Vase entsteht"
    assert "Schicht für Schicht." in german.get_text()
    french = app.get(page + "?lang=fr").html
    assert french.find(class_="headline").get_text() == "Votre vase prend forme"
    assert "Layer by layer." in french.get_text()  # no French description: the default
    assert app.get(page + "?lang=nl").html.find(class_="headline").get_text() == \
        "Shaping your vase"
    stored = app.get("/api/v1/branding/", headers=tenant.headers).json["own"]["steps"][0]
    assert stored["labels"] == {"de": "Ihre Vase entsteht", "fr": "Votre vase prend forme"}


@pytest.mark.parametrize(("body", "field"), [
    ({"language": "pt"}, "language"),
    ({"language": "DE"}, "language"),
    ({"default_language": 7}, "default_language"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone"),
    ({"time_zone": ""}, "time_zone"),
    ({"steps": [{"template": "t", "step": "s", "labels": {"pt": "Olá"}}]}, "steps"),
    ({"steps": [{"template": "t", "step": "s", "labels": ["Hallo"]}]}, "steps"),
    ({"steps": [{"template": "t", "step": "s", "labels": {"de": "x" * 101}}]}, "steps"),
    ({"steps": [{"template": "t", "step": "s", "descriptions": {"de": 5}}]}, "steps"),
])
def test_bad_language_settings_are_refused_by_name(app, tenant, body, field):
    answer = _theme(app, tenant, body, status=400).json
    assert answer["errors"][0]["name"] == field
    assert app.get("/api/v1/branding/", headers=tenant.headers).json["own"][field] is None


def test_language_settings_are_inherited(app, make_tenant, create):
    agency = make_tenant("agency", "Agency")
    client = make_tenant("client", "Client Shop", parent="agency")
    _theme(app, agency, {"default_language": "de", "time_zone": "Europe/Berlin"})
    effective = app.get("/api/v1/branding/", headers=client.headers).json["effective"]
    assert (effective["default_language"], effective["time_zone"]) == ("de", "Europe/Berlin")
    assert effective["language"] is None
    made = app.post_json("/api/v1/trackers/", {"name": "Vase"}, headers=client.headers,
                         status=201).json
    assert app.get(f"/track/{made['tracking_token']}").html.find("html")["lang"] == "de"


# --- time -------------------------------------------------------------------------


def test_times_are_written_in_the_tenants_zone_and_the_pages_language(app, tenant, printing):
    _theme(app, tenant, {"time_zone": "America/New_York"})
    page = app.get(_paths(printing)[0] + "?lang=de").html
    times = page.find_all("time")
    assert times, "no time on the page"
    for node in times:
        instant = datetime.fromisoformat(node["datetime"].replace("Z", "+00:00"))
        assert node["datetime"].endswith("Z")  # the instant, for the script
        assert node.get_text() == format_datetime(instant, "de", "America/New_York")
        assert node.get_text().endswith((" EST", " EDT"))
    assert page.find("time", attrs={"data-relative": True}) is not None  # "Last update: ..."
    body = app.get(f"/track/{printing['tracking_token']}/progress.json?lang=de").json
    assert body["steps"][1]["started_display"].endswith((" EST", " EDT"))


def test_format_datetime():
    winter, summer = datetime(2026, 1, 15, 9, 5, tzinfo=UTC), datetime(2026, 7, 1, 22, 30)
    assert format_datetime(winter, "en") == "Jan 15, 2026, 9:05\u202fAM UTC"
    assert format_datetime(winter, "de", "Europe/Berlin") == "15.01.2026, 10:05 CET"
    assert format_datetime(summer, "fr", "Europe/Paris") == "2 juil. 2026, 00:30 CEST"
    assert format_datetime(summer, "nl", "Not/A_Zone") == "1 jul 2026, 22:30 UTC"
    assert format_datetime(None, "it") is None


# --- the catalogs -----------------------------------------------------------------


def _catalog(lang):
    with (LOCALE / lang / "LC_MESSAGES" / "tracee.po").open("rb") as handle:
        return read_po(handle)


def _ids(catalog) -> set:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated(lang):
    catalog = _catalog(lang)
    assert catalog.locale_identifier == lang
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if message.pluralizable else (message.string,)
        assert not message.fuzzy, f"{lang}: fuzzy: {message.id!r} (make messages, then translate)"
        assert all(strings), f"{lang}: untranslated: {message.id!r}"
        ids = message.id if message.pluralizable else (message.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, f"{lang}: {string!r}"
    obsolete = list(catalog.obsolete)
    assert not obsolete, f"{lang}: messages no longer used: {obsolete}"


def test_the_catalogs_are_up_to_date_with_the_code(tmp_path):
    """Every message in the code and templates is in each catalog, and nothing else:
    otherwise run `make messages` and translate what it reports."""
    pot = tmp_path / "tracee.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract",
                    "-F", str(ROOT / "babel.cfg"), "-k", "N_", "--no-location",
                    "-o", str(pot), str(ROOT / "tracee")], check=True, cwd=ROOT)
    with pot.open("rb") as handle:
        extracted = _ids(read_po(handle))
    assert len(extracted) > 25
    for lang in LANGUAGES:
        ids = _ids(_catalog(lang))
        assert ids == extracted, (f"{lang}: not in the catalog: {extracted - ids}; "
                                  f"no longer in the code: {ids - extracted}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogs_match_their_sources(lang):
    """What the pages load (.mo, built by make install or the package build) says
    what the .po says: otherwise run `make install`."""
    compiled = translations(lang)
    for message in _catalog(lang):
        if not message.id:
            continue
        if message.pluralizable:
            forms = [compiled.ngettext(*message.id, n) for n in (1, 2)]
            assert forms[0] == message.string[0]
            assert forms[1] in message.string
        else:
            assert compiled.gettext(message.id) == message.string, (lang, message.id)


def test_templates_read_the_catalogs_loaded_at_start(registry):
    from pyramid.interfaces import ILocalizer
    from pyramid_jinja2 import IJinja2Environment

    from tracee.i18n import TemplateGettext, localizer

    environment = registry.queryUtility(IJinja2Environment, name=".jinja2")
    assert isinstance(environment.globals["gettext"].__self__, TemplateGettext)
    for lang in LANGUAGES:
        assert registry.queryUtility(ILocalizer, name=lang) is localizer(lang)
        assert localizer(lang).translations is translations(lang)
