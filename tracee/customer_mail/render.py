"""Customer mails as text and HTML, in the subscriber's language, in the tenant's theme.

Every customer mail is made by :func:`render_mail`, and every translated
word in it comes from :func:`translations_for`. The templates
(tracee/templates/mail/customer_*.jinja2) call ``_()`` and ``ngettext()``
the way Jinja2's "newstyle" gettext does (keyword arguments fill
``%(name)s``), so one catalog extraction serves them and the pages alike.
"""

import gettext
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from tracee.i18n import language as i18n_language
from tracee.i18n import translations

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mail"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=lambda name: bool(name) and name.endswith(".html.jinja2"),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def translations_for(language: str) -> gettext.NullTranslations:
    """The catalog of ``language`` for customer mails: the one place they get words from.

    A subscriber's stored tag (``de-CH``) reads as its language; one Tracee
    does not speak reads as English, as the pages do.
    """
    return translations(i18n_language(language) or "en")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Words:
    """``_`` and ``ngettext`` over one catalog; in HTML the catalog's text is
    trusted markup and the values put into it are escaped, as in Jinja2's
    newstyle gettext."""

    def __init__(self, translations: gettext.NullTranslations, html: bool = False):
        self.translations, self.html = translations, html

    def _fill(self, text: str, values: dict) -> str:
        if self.html:
            text = Markup(text)  # noqa: S704 (the catalog's own text; values are escaped)
        return text % values if values else text

    def gettext(self, message: str, **values) -> str:
        return self._fill(self.translations.gettext(message), values)

    def ngettext(self, singular: str, plural: str, n: int, **values) -> str:
        values.setdefault("num", n)
        return self._fill(self.translations.ngettext(singular, plural, n), values)


def render_mail(kind: str, language: str, subject: tuple, **context) -> Rendered:
    """The mail ``kind`` ("customer_confirm", "customer_update") in ``language``.

    ``subject`` is the message and its values, e.g. ``("Your order %(name)s",
    {"name": ...})``, translated like the body.
    """
    translations = translations_for(language)
    text_words, html_words = Words(translations), Words(translations, html=True)
    message, values = subject
    text = _env.get_template(f"{kind}.txt.jinja2").render(
        _=text_words.gettext, ngettext=text_words.ngettext, **context)
    html = _env.get_template(f"{kind}.html.jinja2").render(
        _=html_words.gettext, ngettext=html_words.ngettext, language=language, **context)
    return Rendered(text_words.gettext(message, **values), text, html)
