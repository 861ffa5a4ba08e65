"""Customer pages' templates compiled once per language, their fixed text translated then.

A tracking page carries a few dozen phrases of ours ("Ask a question",
"Order #{{ number }}", the forms' labels and hints). Translated on every
view, each is a call through the template's context into the catalog,
then an escape; and each is a piece of output of its own. Yet the catalog
is part of the build (tracee.i18n): a phrase in a given language never
changes while the process runs. So each language gets an overlay of the
application's Jinja2 environment (same loader, globals and filters; a
template cache of its own) whose i18n extension translates while it
compiles: ``_("literal")`` and ``{% trans %}`` blocks become constant text
that Jinja2 escapes once and joins with the markup around it. What stays
dynamic is what differs between trackers and tenants; a phrase that is not
a literal (a form's error, named in Python) is still looked up at render
time, as is every plural, through the context's ``gettext``/``ngettext``.

The shared environment keeps this extension too, without a catalog: there it
behaves as Jinja2's own (the dashboard and mail templates translate as they
render), and ``make messages`` extracts from the same sources either way.
"""

import re

from jinja2 import nodes
from jinja2.ext import InternationalizationExtension
from jinja2.lexer import Token, TokenStream
from pyramid_jinja2 import IJinja2Environment

from tracee.i18n import LANGUAGES, translations

# Names a template calls with one literal to have it translated.
_GETTEXT_NAMES = frozenset({"_", "gettext"})
# What old-style gettext formatting does with a {% trans %} block's variables.
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
REGISTRY_KEY = "i18n.page_environments"


class CompiledTranslations(InternationalizationExtension):
    """Jinja2's i18n extension, translating literals at compile time when the
    environment it is bound to has a ``catalog`` (see :func:`environment`)."""

    catalog = None  # set on the instance bound to a language's overlay

    def filter_stream(self, stream: TokenStream):
        if self.catalog is None:
            return stream
        return self._translate_literals(stream)

    def _translate_literals(self, stream: TokenStream):
        # ``_("text")``: name, "(", string, ")", and not an attribute (``x._(...)``).
        window: list[Token] = []
        previous = None
        for token in stream:
            window.append(token)
            while window and not self._could_continue(window, previous):
                previous = window.pop(0)
                yield previous
            if len(window) == 4:
                name, _, text, _ = window
                yield Token(name.lineno, "string", self.catalog.gettext(text.value))
                previous = window[-1]
                window = []
        yield from window

    @staticmethod
    def _could_continue(window: list[Token], previous: Token | None) -> bool:
        expected = ("name", "lparen", "string", "rparen")
        if any(t.type != expected[i] for i, t in enumerate(window)):
            return False
        if window[0].value not in _GETTEXT_NAMES:
            return False
        return previous is None or previous.type != "dot"

    def _make_node(self, singular, plural, context, variables, plural_expr,
                   vars_referenced, num_called_num):
        newstyle = self.environment.newstyle_gettext  # type: ignore[attr-defined]
        if self.catalog is None or plural_expr is not None or context is not None or newstyle:
            return super()._make_node(singular, plural, context, variables, plural_expr,
                                      vars_referenced, num_called_num)
        if not vars_referenced:
            singular = singular.replace("%%", "%")
        text = self.catalog.gettext(singular)
        if not vars_referenced:
            return nodes.Output([_trusted(text)])
        parts = _split(text, variables)
        if parts is None:  # a form the split does not know: format as Jinja2 would
            return nodes.Output([nodes.Mod(
                _trusted(text),
                nodes.Dict([nodes.Pair(nodes.Const(k), v) for k, v in variables.items()]))])
        # The catalog's text is trusted, as Jinja2 trusts it; the values are escaped.
        return nodes.Output([_trusted(p) if isinstance(p, str) else p for p in parts])


def _trusted(text: str) -> nodes.Expr:
    return nodes.MarkSafeIfAutoescape(nodes.Const(text))


def _split(text: str, variables: dict) -> list | None:
    """``text`` as constant strings and the expressions of its ``%(name)s``,
    or None if it holds anything else a ``%`` could mean."""
    parts: list = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position:match.start()])
        name = match.group(1)
        if name is None:
            parts.append("%")
        elif name in variables:
            parts.append(variables[name])
        else:
            return None
        position = match.end()
    rest = text[position:]
    if "%" in rest or any("%" in p for p in parts if isinstance(p, str) and p != "%"):
        return None
    parts.append(rest)
    return [p for p in parts if not (isinstance(p, str) and p == "")]


def environment(registry, lang: str):
    """The Jinja2 environment whose templates speak ``lang``, made on first use."""
    made = registry.setdefault(REGISTRY_KEY, {})
    found = made.get(lang)
    if found is None:
        if lang not in LANGUAGES:
            raise ValueError(f"no catalog for {lang!r}")
        shared = registry.getUtility(IJinja2Environment, name=".jinja2")
        # A cache of its own (an overlay would otherwise start with a copy of the
        # shared one, whose templates translate at render time), and no bytecode
        # cache, which keys compiled code by source alone, not by language.
        found = shared.overlay(cache_size=shared.cache.capacity if shared.cache else 400)
        found.bytecode_cache = None
        # Jinja2 hands each template a ChainMap of its own globals (none, here) and
        # the environment's; every render merges it into a dict, raising and catching
        # a KeyError per global (some 60,000 instructions per page). The globals are
        # all in place once the application is configured, so a plain dict will do.
        found.make_globals = lambda own: {**found.globals, **(own or {})}
        for extension in found.extensions.values():
            if isinstance(extension, CompiledTranslations):
                extension.catalog = translations(lang)
                break
        else:
            raise RuntimeError("jinja2.i18n_extension is not tracee's CompiledTranslations")
        made[lang] = found
    return found
