"""The customer's language and time: catalogs, the choice of language, dates.

What a customer reads (the tracking page, the embed, their error pages, the
progress view's text, and mail sent to them) speaks one of :data:`LANGUAGES`.
Catalogs live in ``tracee/locale/<lang>/LC_MESSAGES/tracee.po``; the build
compiles them to ``.mo`` (setup.py, ``make install``), and each process loads
a language once, on first use: nothing is parsed or compiled per request.

Pages get their language from :func:`negotiate`; code outside a request (the
worker's mail) uses :func:`translations` and :func:`format_datetime` with a
language it stored::

    catalog = translations(lang)
    catalog.gettext("Your order is ready")
    catalog.ngettext("%(n)s step", "%(n)s steps", n) % {"n": n}

``make messages`` finds strings in calls named ``_``, ``gettext``,
``ngettext`` (also as methods, as above) and :func:`N_` (marked here,
translated where shown), in Python and in templates; the call's first
arguments must be the literal text.
"""

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from pyramid.i18n import Localizer, Translations
from pyramid.interfaces import ILocalizer

LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
DEFAULT = "en"
DOMAIN = "tracee"
LOCALE_DIR = Path(__file__).parent / "locale"
# What a page names its language by, for a view that chose one (see includeme).
REQUEST_ATTRIBUTE = "customer_language"


def N_(message: str) -> str:  # noqa: N802 (the gettext convention extractors know)
    """Marks ``message`` for extraction; it is translated where it is shown."""
    return message


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> Translations:
    """The compiled catalog of ``lang``, read once per process.

    A language without a compiled catalog (a checkout nobody built) reads
    as English rather than failing the page."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalog for {lang!r}; languages: {', '.join(LANGUAGES)}")
    return Translations.load(str(LOCALE_DIR), [lang], DOMAIN)


@lru_cache(maxsize=len(LANGUAGES))
def localizer(lang: str) -> Localizer:
    """Pyramid's localizer for ``lang``; templates' ``_``/``ngettext`` go through it."""
    return Localizer(lang, translations(lang))


def language(value) -> str | None:
    """``value`` as one of :data:`LANGUAGES` (``de-AT`` is ``de``), else None."""
    if not isinstance(value, str):
        return None
    primary = value.split("-", 1)[0].split("_", 1)[0].strip().lower()
    return primary if primary in LANGUAGES else None


def negotiate(request, theme: dict | None = None) -> str:
    """The customer's language, first found of: ``?lang=``, the tenant's fixed
    ``language``, the browser's Accept-Language (q-values honoured, ``de-CH``
    finds ``de``), the tenant's ``default_language``, English.

    ``theme`` is the effective theme's values (a ``Brand``'s ``values``), or
    None where no tenant is known (a page that was not found)."""
    theme = theme or {}
    chosen = language(request.GET.get("lang")) or language(theme.get("language"))
    if chosen:
        return chosen
    accepted = request.accept_language
    if accepted:
        found = accepted.lookup(LANGUAGES, default=_none)
        if found:
            return found
    return language(theme.get("default_language")) or DEFAULT


def _none():
    return None


# --- time ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every IANA zone name this system knows (read once; it scans the database)."""
    return frozenset(available_timezones())


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The zone named ``name``; UTC for None or a name not (or no longer) known."""
    if name and name in time_zones():
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


@lru_cache(maxsize=len(LANGUAGES))
def _locale(lang: str) -> Locale:
    return Locale.parse(lang if lang in LANGUAGES else DEFAULT)


def format_datetime(value: datetime | None, lang: str, zone_name: str | None = None) -> str | None:
    """``value`` as a reader of ``lang`` writes a date and time, in the zone
    ``zone_name`` (the tenant's), ending with the zone's abbreviation so the
    time reads right where the reader lives elsewhere and no script runs:
    "Dec 2, 2026, 8:23 AM CET", "02.12.2026, 08:23 CET" (the abbreviation is
    the zone database's, the same in every language)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # the database's times are UTC
    local = value.astimezone(zone(zone_name))
    locale = _locale(lang)
    # The locale's own way of joining a date and a time ("{1}, {0}", "{1} 'à' {0}"...),
    # as Babel's format_datetime joins them.
    joined = (get_datetime_format("medium", locale=locale).replace("'", "")
              .replace("{0}", format_time(local, "short", locale=locale))
              .replace("{1}", format_date(local, "medium", locale=locale)))
    return f"{joined} {local.tzname()}"


# --- wiring -------------------------------------------------------------------------


def _request_language(request) -> str:
    """Pyramid's locale negotiator: the language a customer-facing view chose;
    every other page (the dashboard, the API's documentation) is English."""
    return getattr(request, REQUEST_ATTRIBUTE, None) or DEFAULT


def includeme(config):
    # Each language's localizer is made once, here, so a request never loads a catalog;
    # pyramid_jinja2's _()/ngettext reach it through request.localizer.
    for lang in LANGUAGES:
        config.registry.registerUtility(localizer(lang), ILocalizer, name=lang)
    config.set_locale_negotiator(_request_language)
