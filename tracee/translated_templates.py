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

Its loader also pastes each plain ``{% include "<name>" %}`` in, as a
``{% with %}`` block of its own (:class:`InlinedIncludes`): an include made
a context of its own for the partial, copying the page's, three times a
tracking page; a block scopes the partial's ``{% set %}`` alike.

The shared environment keeps this extension too, without a catalog: there it
behaves as Jinja2's own (the dashboard and mail templates translate as they
render), and ``make messages`` extracts from the same sources either way.
"""

import re
from io import StringIO
from keyword import iskeyword
from types import BuiltinFunctionType, FunctionType, MethodType

import markupsafe
from jinja2 import BaseLoader, Environment, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.ext import InternationalizationExtension
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import Context
from jinja2.utils import _PassArg
from pyramid_jinja2 import IJinja2Environment

from tracee.i18n import LANGUAGES, translations

# Names a template calls with one literal to have it translated.
_GETTEXT_NAMES = frozenset({"_", "gettext"})
# What old-style gettext formatting does with a {% trans %} block's variables.
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
REGISTRY_KEY = "i18n.page_environments"
# The i18n extension's name for a {% trans %} block's first value when it is a
# call; only that block reads it, and the compiled pages keep it out of contexts.
TRANS = "_trans"


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


_ESCAPE_INNER = hasattr(markupsafe, "_escape_inner")


def escaped_text(text: str) -> str:
    """``str(markupsafe.escape(text))`` for a plain string, without the Markup made between."""
    return markupsafe._escape_inner(text) if _ESCAPE_INNER else str(markupsafe.escape(text))
# What Context.call hands over as it is, unless marked pass_context & co.
PLAIN_CALLABLES = frozenset({FunctionType, BuiltinFunctionType, MethodType})
PASS_CONTEXT = _PassArg.context  # what jinja2.pass_context marks a function with


class JoinedOutput(CodeGenerator):
    """Jinja2's code generator, yielding fewer and longer pieces of a page.

    Stock Jinja2 yields every piece of output on its own: each run of markup,
    each ``{{ value }}``. A piece written inside a block or an included
    template then resumes every generator between it and the render's join
    (the block's, the base template's, the page's, and a Python loop per
    include): a tracking page yielded some 170 pieces through three or four
    generators each. Here the pieces of one output node are joined where they
    are made, and a block's or an included template's output is joined before
    it is yielded. The text is the same, piece for piece, in the same order.
    Only what a streamed render would hand out at a time changes, and the
    customer pages render whole (``Template.render``).

    Four lookups are also written out where stock Jinja2 calls a Python
    function for each (some 50 each on a page): ``{{ value }}`` escapes a
    plain string straight to text (markupsafe's own escaping, without making
    a Markup of a piece that is only joined), passes Markup as it is and
    writes an int's digits as they are; ``a.b``
    tries the attribute with the builtin ``getattr``, calling
    ``Environment.getattr`` (an item, else undefined) only when there is none;
    a template's variables are read from its context's two dicts as
    ``Context.resolve_or_missing`` reads them; and ``f(x)`` calls a plain
    function straight, where ``Context.call`` would look twice for a
    ``pass_context`` mark it does not have (anything else, marked or not,
    still goes through it)."""

    def enter_frame(self, frame: Frame) -> None:
        if self.get_resolve_func() != "resolve" or self.environment.context_class is not Context:
            return super().enter_frame(frame)
        loads = frame.symbols.loads
        resolved = {t: p for t, (action, p) in loads.items() if action == VAR_LOAD_RESOLVE}
        for target, name in resolved.items():
            if name == TRANS:  # never in a context: see pop_assign_tracking
                self.writeline(f"{target} = missing")
                continue
            self.writeline(f"{target} = context.vars[{name!r}] if {name!r} in context.vars"
                           f" else context.parent.get({name!r}, missing)")
            # Made undefined here, once, rather than at each use (see visit_Name).
            self.writeline(f"if {target} is missing: {target} = undefined(name={name!r})")
        # The other loads (parameters, aliases, undefined names) as Jinja2 writes them.
        frame.symbols.loads = {t: v for t, v in loads.items() if t not in resolved}
        try:
            super().enter_frame(frame)
        finally:
            frame.symbols.loads = loads

    def visit_Name(self, node: nodes.Name, frame: Frame) -> None:
        # Stock Jinja2 writes each use of a variable read from the context as
        # ``(undefined(name=...) if ref is missing else ref)``. enter_frame above
        # makes such a variable undefined where it is read, so a use is the
        # variable alone. Only the context's variables: a name a frame sets
        # before it is read starts as missing, and keeps Jinja2's test.
        if (node.ctx == "load" and node.name != TRANS and self.get_resolve_func() == "resolve"
                and self.environment.context_class is Context):
            ref = frame.symbols.ref(node.name)
            load = frame.symbols.find_load(ref)
            if load is not None and load[0] == VAR_LOAD_RESOLVE:
                self.write(ref)
                return
        super().visit_Name(node, frame)

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        if _ESCAPE_INNER:
            self.writeline("from markupsafe import _escape_inner")
        self.writeline("from types import FunctionType as _function")
        self.writeline("from tracee.translated_templates import PASS_CONTEXT as _pass_context,"
                       " PLAIN_CALLABLES as _plain")
        super().visit_Template(node, frame)

    def _escapes_inline(self, frame: Frame) -> bool:
        # markupsafe's _escape_inner is not public: without it, Jinja2's own escaping.
        return (_ESCAPE_INNER and not frame.eval_ctx.volatile and frame.eval_ctx.autoescape)

    def _output_child_pre(self, node, frame, finalize) -> None:
        if not self._escapes_inline(frame):
            return super()._output_child_pre(node, frame, finalize)
        # escape() of a plain string is Markup(_escape_inner(it)), of Markup itself:
        # the same characters.
        self.write("(_escape_inner(_text) if type((_text := ")
        if finalize.src is not None:
            self.write(finalize.src)

    def _output_child_post(self, node, frame, finalize) -> None:
        if not self._escapes_inline(frame):
            return super()._output_child_post(node, frame, finalize)
        if finalize.src is not None:
            self.write(")")
        # An int's text needs no escaping: escape() would make a Markup of the same digits.
        self.write(")) is str else _text if type(_text) is Markup"
                   " else str(_text) if type(_text) is int else escape(_text))")

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if self.environment.is_async or type(self.environment).getattr is not Environment.getattr:
            return super().visit_Getattr(node, frame)
        # The object is named so that the fallback does not evaluate it again.
        self.write("(_found if (_found := getattr((_of := ")
        self.visit(node.node, frame)
        self.write(f"), {node.attr!r}, missing)) is not missing"
                   f" else environment.getattr(_of, {node.attr!r}))")

    @optimizeconst
    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        if (forward_caller or self.environment.is_async or self.environment.sandboxed
                or any(iskeyword(k.key) for k in node.kwargs)):
            return super().visit_Call(node, frame, forward_caller=forward_caller)
        # Context.call's other work, passing _loop_vars on and turning a StopIteration
        # into undefined, matters only to pass_context callables and to generators
        # (the page's functions are neither): a plain one is simply called. So is a
        # function marked pass_context (static_path), with the context, while the
        # loop and block variables Context.call would derive a context to carry
        # are none.
        extra = {key: key for key in ("_loop_vars", "_block_vars")
                 if getattr(frame, key[1:-5] + "_frame")}
        arguments = self._signature_text(node, frame, None)
        self.write(f"(_callee({arguments[2:]}) if type(_callee := ")
        self.visit(node.node, frame)
        self.write(") in _plain and not hasattr(_callee, 'jinja_pass_arg')"
                   f" else _callee(context{arguments}) if type(_callee) is _function"
                   " and getattr(_callee, 'jinja_pass_arg', None) is _pass_context")
        self.write("".join(f" and not {key}" for key in extra))
        self.write(" else context.call(_callee")
        self.write(self._signature_text(node, frame, extra or None))
        self.write("))")

    def _signature_text(self, node: nodes.Call, frame: Frame, extra_kwargs) -> str:
        """What ``signature`` writes (its arguments, each after a comma), as text."""
        stream, self.stream = self.stream, StringIO()
        try:
            self.signature(node, frame, extra_kwargs)
            return self.stream.getvalue()
        finally:
            self.stream = stream

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        if frame.buffer is not None or frame.require_output_check:
            return super().visit_Output(node, frame)
        # As the stock writer does: markup and constants folded at compile time,
        # the rest evaluated in order; but as one tuple, joined.
        finalize = self._make_finalize()
        body: list = []
        for child in node.nodes:
            try:
                if not (finalize.const or isinstance(child, nodes.TemplateData)):
                    raise nodes.Impossible()
                const = self._output_child_to_const(child, frame, finalize)
            except Exception:  # noqa: BLE001 - as Jinja2: evaluated at render time instead
                body.append(child)
                continue
            if body and isinstance(body[-1], list):
                body[-1].append(const)
            else:
                body.append([const])
        if len(body) < 2:
            return super().visit_Output(node, frame)
        self.writeline("yield environment.concat((")
        self.indent()
        for item in body:
            if isinstance(item, list):
                self.writeline(self._output_const_repr(item) + ",")
            else:
                self.newline(item)
                self._output_child_pre(item, frame, finalize)
                self.visit(item, frame)
                self._output_child_post(item, frame, finalize)
                self.write(",")
        self.outdent()
        self.writeline("))")

    def visit_Block(self, node: nodes.Block, frame: Frame) -> None:
        if (frame.buffer is not None or self.environment.is_async or node.scoped
                or node.required or (frame.toplevel and (self.has_known_extends
                                                         or self.extends_so_far > 0))):
            return super().visit_Block(node, frame)
        self.writeline(f"yield environment.concat(context.blocks[{node.name!r}][0](context))",
                       node)

    def visit_Include(self, node: nodes.Include, frame: Frame) -> None:
        if (frame.buffer is not None or self.environment.is_async or node.ignore_missing
                or not node.with_context or not isinstance(node.template, nodes.Const)
                or not isinstance(node.template.value, str)):
            return super().visit_Include(node, frame)
        self.writeline("template = environment.get_template(", node)
        self.visit(node.template, frame)
        self.write(f", {self.name!r})")
        self.writeline("yield environment.concat(template.root_render_func("
                       "template.new_context(context.get_all(), True,"
                       f" {self._include_locals(frame)})))")

    def pop_assign_tracking(self, frame: Frame) -> None:
        # ``_trans`` is the i18n extension's name for a {% trans %} block's first
        # value when it is a call, read by that block alone. Kept as a block's
        # variable, it made each later call of a context function in the block
        # (a page's static_path) derive a whole new Context to carry it.
        self._assign_stack[-1].discard(TRANS)
        super().pop_assign_tracking(frame)

    @staticmethod
    def _include_locals(frame: Frame) -> str:
        """The locals an included template sees, as ``dump_local_context`` writes
        them but for ``_trans``: the i18n extension's own name for a ``{% trans %}``
        variable's value, which no included template reads before setting it. With
        it, every include after a ``{% trans %}`` copied the page's context twice
        (``new_context`` copies a shared parent to add locals to it)."""
        stores = frame.symbols.dump_stores()
        return "{" + ", ".join(f"{name!r}: {target}" for name, target in stores.items()
                               if name != TRANS) + "}"


# An include naming its template plainly, with Jinja2's defaults (the context
# passed, the template required), and its whitespace control.
_INCLUDE = re.compile(r'{%(-?)\s*include\s+"([^"{}%]+)"\s*(-?)%}')
# What a pasted partial must not hold: these mean something else outside a template of its own.
_ONLY_IN_A_TEMPLATE = re.compile(r"{%-?\s*(?:extends|block|macro|import|from)\b")


class InlinedIncludes(BaseLoader):
    """``loader``'s sources with each plain include replaced by the included
    source, in a ``{% with %}`` block: what the partial sets stays in it, and
    it reads the page's variables, as an include's template would. A partial
    with blocks, macros or imports is left an include."""

    def __init__(self, loader: BaseLoader):
        self.loader = loader

    def get_source(self, environment, template):
        return self._source(environment, template, (template,))

    def _source(self, environment, template, within: tuple):
        source, filename, uptodate = self.loader.get_source(environment, template)
        checks = [uptodate]

        def paste(match):
            open_dash, name, close_dash = match.groups()
            if name in within:
                return match.group(0)  # a cycle: Jinja2 reports it as it would
            part, _, part_uptodate = self._source(environment, name, (*within, name))
            if _ONLY_IN_A_TEMPLATE.search(part):
                return match.group(0)
            if not environment.keep_trailing_newline:  # as Jinja2 reads a template
                part = part.removesuffix("\n")
            checks.append(part_uptodate)
            return f"{{%{open_dash} with %}}{part}{{% endwith {close_dash}%}}"

        source = _INCLUDE.sub(paste, source)
        return source, filename, lambda: all(check() for check in checks if check is not None)

    def list_templates(self):
        return self.loader.list_templates()


MAX_REMEMBERED = 256  # templates are few (the pages' and their parts); this bounds a surprise


def remembered(get_template):
    """``get_template``, keeping each (name, parent)'s template. Only where templates
    do not reload: there Jinja2's cache would hand back the same one, after a
    loader's path join and an update of its LRU order (a page asks five times)."""
    kept: dict = {}

    def get(name, parent=None, globals=None):
        if globals is not None or not isinstance(name, str):
            return get_template(name, parent, globals)
        key = (name, parent)
        found = kept.get(key)
        if found is None:
            if len(kept) >= MAX_REMEMBERED:
                kept.clear()
            found = kept[key] = get_template(name, parent)
        return found

    return get


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
        found = shared.overlay(cache_size=shared.cache.capacity if shared.cache else 400,
                               loader=InlinedIncludes(shared.loader))
        found.bytecode_cache = None
        found.code_generator_class = JoinedOutput
        if not found.auto_reload:
            found.get_template = remembered(found.get_template)
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
