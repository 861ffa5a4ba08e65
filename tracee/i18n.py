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
from babel.dates import (
    DateTimePattern,
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
from pyramid.i18n import Localizer, Translations
from pyramid.interfaces import ILocalizer
from pyramid.threadlocal import get_current_request
from webob.acceptparse import create_accept_language_header

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
    environ = request.environ  # read directly: this runs on every page view
    asked = request.GET.get("lang") if environ.get("QUERY_STRING") else None
    chosen = language(asked) or language(theme.get("language"))
    if chosen:
        return chosen
    return (_accepted(environ.get("HTTP_ACCEPT_LANGUAGE"))
            or language(theme.get("default_language")) or DEFAULT)


# Browsers send few distinct headers, and parsing one costs more than the rest of the choice.
@lru_cache(maxsize=1024)
def _accepted(header: str | None) -> str | None:
    if not header or len(header) > 500:
        return None
    return create_accept_language_header(header).lookup(LANGUAGES, default=_none)


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
def _pattern(lang: str) -> tuple[DateTimePattern, Locale]:
    """The language's medium date and short time, joined its way ("{1}, {0}",
    "{1} 'à' {0}"...), as one parsed pattern: parsed once, not per time shown."""
    locale = Locale.parse(lang if lang in LANGUAGES else DEFAULT)
    joined = (get_datetime_format("medium", locale=locale)
              .replace("{1}", get_date_format("medium", locale=locale).pattern)
              .replace("{0}", get_time_format("short", locale=locale).pattern))
    return parse_pattern(joined), locale


# A tracker's times are shown again on every view of its page, in few languages and zones.
@lru_cache(maxsize=8192)
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
    pattern, locale = _pattern(lang)
    return f"{pattern.apply(local, locale)} {local.tzname()}"


# --- wiring -------------------------------------------------------------------------


def _request_language(request) -> str:
    """Pyramid's locale negotiator: the language a customer-facing view chose;
    every other page (the dashboard, the API's documentation) is English."""
    return getattr(request, REQUEST_ATTRIBUTE, None) or DEFAULT


class TemplateGettext:
    """The templates' ``_``/``gettext``/``ngettext`` (pyramid_jinja2's
    ``jinja2.i18n.gettext`` setting): the request's catalog, straight. Jinja2
    formats the ``%(name)s`` itself, so Pyramid's localizer, which wraps each
    message in a TranslationString first, would cost three times as much for
    the same text on every string of every page."""

    def __init__(self, domain: str):
        self.domain = domain

    @staticmethod
    def _catalog() -> Translations:
        request = get_current_request()
        return translations(getattr(request, REQUEST_ATTRIBUTE, None) or DEFAULT)

    def gettext(self, message: str, mapping=None) -> str:
        return self._catalog().gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog().ngettext(singular, plural, n)


def includeme(config):
    # Each language's localizer is made once, here, so a request never loads a catalog;
    # request.localizer finds it by the language the view chose.
    for lang in LANGUAGES:
        config.registry.registerUtility(localizer(lang), ILocalizer, name=lang)
    config.set_locale_negotiator(_request_language)
    config.registry.settings.setdefault("jinja2.i18n.gettext", "tracee.i18n.TemplateGettext")
    # Jinja2's own i18n extension, which can also translate as it compiles
    # (customer pages, one environment per language: tracee.translated_templates).
    config.registry.settings.setdefault(
        "jinja2.i18n_extension", "tracee.translated_templates.CompiledTranslations")
