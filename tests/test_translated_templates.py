"""Customer pages' templates, translated as they compile (tracee.translated_templates)."""

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined, Template, UndefinedError, pass_context
from jinja2.compiler import CodeGenerator
from jinja2.runtime import Context
from markupsafe import Markup

from tracee import translated_templates
from tracee.i18n import translations
from tracee.translated_templates import CompiledTranslations, InlinedIncludes, JoinedOutput

CATALOG = {
    "Ask a question": "Eine Frage stellen",
    "Order #%(number)s": "Bestellung Nr. %(number)s",
    "Back to %(name)s": "Zurück zu %(name)s <b>",
    "%(pct)s%% done": "%(pct)s %% erledigt",
    "Odd %(n)s": "Odd %(n)d",  # a translator's slip: formatted as Jinja2 would
    "Fish & chips": "Fisch & Pommes",
    "late": "spät",
}


class Catalog:
    def gettext(self, message):
        return CATALOG.get(message, message)

    def ngettext(self, singular, plural, n):
        return self.gettext(singular if n == 1 else plural)


def render(source: str, compiled: bool, **values) -> str:
    env = Environment(loader=DictLoader({"t": source}), autoescape=True,
                      extensions=[CompiledTranslations])
    env.install_gettext_callables(Catalog().gettext, Catalog().ngettext, newstyle=False)
    if compiled:
        next(iter(env.extensions.values())).catalog = Catalog()
    return env.get_template("t").render(values)


SOURCES = [
    '{{ _("Ask a question") }}',
    '<a title="{{ _(\'Fish & chips\') }}">{{ _("Fish & chips") }}</a>',
    "{% trans number=n %}Order #{{ number }}{% endtrans %}",
    "{% trans name=who %}Back to {{ name }}{% endtrans %}",
    "{% trans pct=p %}{{ pct }}% done{% endtrans %}",
    "{% trans n=p %}Odd {{ n }}{% endtrans %}",
    "{{ _(word) }}",  # not a literal: looked up as the page renders
    "{{ _(_(\"late\")) }}",
    "{% for x in (_('late'), 'a') %}[{{ x }}]{% endfor %}",
    "{% trans count=p %}one{% pluralize %}many{% endtrans %}",
]


@pytest.mark.parametrize("source", SOURCES)
def test_compiled_text_is_what_rendering_translated(source):
    values = {"n": 7, "who": "<script>x</script>", "p": 3, "word": "late"}
    assert render(source, True, **values) == render(source, False, **values)


def test_literals_become_constants_and_values_are_still_escaped():
    env = Environment(loader=DictLoader({}), autoescape=True, extensions=[CompiledTranslations])
    next(iter(env.extensions.values())).catalog = Catalog()
    code = env.compile('{{ _("Ask a question") }} {% trans name=who %}Back to {{ name }}'
                       "{% endtrans %}", raw=True)
    assert "Eine Frage stellen" in code and "Zurück zu" in code
    assert "gettext" not in code and "context.call" not in code
    env.install_gettext_callables(Catalog().gettext, Catalog().ngettext)
    out = env.from_string("{% trans name=who %}Back to {{ name }}{% endtrans %}").render(
        who="<i>")
    assert out == "Zurück zu &lt;i&gt; <b>"


def test_an_attribute_named_underscore_is_left_alone():
    class Thing:
        def _(self, text):
            return text.upper()

    assert render('{{ thing._("late") }}', True, thing=Thing()) == "LATE"


def test_each_language_has_an_environment_of_its_own(registry):
    german = translated_templates.environment(registry, "de")
    french = translated_templates.environment(registry, "fr")
    assert translated_templates.environment(registry, "de") is german
    source = '{{ _("Ask a question") }}'
    assert german.from_string(source).render() == translations("de").gettext("Ask a question")
    assert french.from_string(source).render() == translations("fr").gettext("Ask a question")
    assert german.from_string(source).render() != french.from_string(source).render()
    with pytest.raises(ValueError):
        translated_templates.environment(registry, "xx")


def test_static_addresses_follow_the_script_name(app, create):
    """Built once per script name (tracee.static_paths), never one for all."""
    token = create(name="Order #1 - Vase")["tracking_url"].rsplit("/", 1)[1]
    mounted = app.get(f"/track/{token}", extra_environ={"SCRIPT_NAME": "/shop"})
    assert 'href="/shop/static/tracee.css"' in mounted.text
    assert 'src="/shop/static/live.js"' in mounted.text
    assert 'href="/static/tracee.css"' in app.get(f"/track/{token}").text


# --- the joined output: the same text, in fewer pieces ---------------------------------

LAYOUT = {
    "base": "<title>{% block title %}T{% endblock %}</title>{% block body %}{% endblock %}"
            "{% block foot scoped %}[{{ x }}]{% endblock %}",
    "part": "<p>{{ x }}|{{ y|default('-') }}</p>{% for i in items %}<b>{{ i }}</b>{% endfor %}",
    "page": """{% extends "base" %}
{% block title %}{{ super() }} · {{ x }}{% endblock %}
{% block body %}<h1 a="{{ x }}">{{ x }}{{ y }}</h1>
{% set y = "<set>" %}{% include "part" %}{% include "part" without context %}
{% include "missing" ignore missing %}{% include ["part"] %}
{% macro m(v) %}<i>{{ v }}</i>{{ caller() if caller else "" }}{% endmacro %}{{ m(x) }}
{% call m(y) %}<u>{{ x }}</u>{% endcall %}{% filter upper %}{{ x }}-{{ y }}{% endfilter %}
{% for i in items %}{{ loop.index }}:{{ i }}{% if loop.last %}.{% endif %}{% else %}none{% endfor %}
{% block inner %}<em>{{ x }}</em>{% endblock %}{{ self.inner() }}{% endblock %}""",
    "flat": "{% if x %}{{ x }}{% endif %}{{ y }}",
    # names read from the context, set before being read, set in one branch only
    "scopes": "{% with %}[{{ z }}|{{ z is defined }}|{{ z|default('d') }}]{% endwith %}"
              "{% with %}{% if x %}{% set z = x %}{% endif %}[{{ z }}]{% endwith %}"
              "{% with %}{% set z = 1 %}{{ z }}{% endwith %}"
              "{% for i in items %}{% if loop.first %}{% set w = i %}{% endif %}{{ w }}"
              "{% endfor %}{% macro n() %}{{ z }}{{ x }}{% endmacro %}{{ n() }}"
              "{% set z = 'top' %}{{ n() }}{{ z }}{% if false %}{{ never }}{% endif %}",
    # an attribute, else an item, else undefined; markup kept as it is; values not text
    "lookup": "{% if d is defined %}{{ d.a }}|{{ d.keys is callable }}|{{ d.x.y }}|"
              "{{ d.nope|default('none') }}|{{ d.nope is defined }}|{{ d.m }}{{ d.n }}"
              "{{ d.o.__class__.__name__ }}{% endif %}",
}


def environments() -> tuple[Environment, Environment]:
    stock = Environment(loader=DictLoader(LAYOUT), autoescape=True)
    joined = Environment(loader=DictLoader(LAYOUT), autoescape=True)
    joined.code_generator_class = JoinedOutput
    return stock, joined


@pytest.mark.parametrize("name", list(LAYOUT))
@pytest.mark.parametrize("values", [
    {"x": "<a&b>", "y": 3, "items": ["1", "<2>"],
     "d": {"a": "<1>", "x": {"y": "'2'"}, "m": Markup("<b>&amp;</b>"), "n": 4.5, "o": None}},
    {"x": "", "items": []},
])
@pytest.mark.parametrize("inline_escape", [True, False])
def test_joined_output_is_the_stock_output(name, values, inline_escape, monkeypatch):
    # Without markupsafe's private _escape_inner, Jinja2's own escaping, the same text.
    monkeypatch.setattr(translated_templates, "_ESCAPE_INNER", inline_escape)
    stock, joined = environments()
    assert joined.get_template(name).render(values) == stock.get_template(name).render(values)
    # what it is for: the page comes out of its generators in fewer pieces
    assert len(list(joined.get_template(name).generate(values))) <= len(
        list(stock.get_template(name).generate(values)))
    if name == "page":
        assert len(list(joined.get_template(name).generate(values))) < len(
            list(stock.get_template(name).generate(values))) / 2


def test_a_strict_undefined_raises_where_it_is_used_and_only_there():
    stock, joined = environments()
    for environment in (stock, joined):
        environment.undefined = StrictUndefined
    unused = "{% if false %}{{ never }}{% endif %}{{ x }}{% with %}{{ q is defined }}{% endwith %}"
    assert joined.from_string(unused).render(x="a") == stock.from_string(unused).render(
        x="a") == "aFalse"
    for environment in (stock, joined):
        with pytest.raises(UndefinedError, match="'y' is undefined"):
            environment.get_template("flat").render(x="a")


@pytest.fixture
def rendered(monkeypatch):
    """Every template rendered whole while the test runs: (template, args, kwargs, text)."""
    seen = []
    render = Template.render

    def spy(self, *args, **kwargs):
        text = render(self, *args, **kwargs)
        seen.append((self, args, kwargs, text))
        return text

    monkeypatch.setattr(Template, "render", spy)
    return seen


@pytest.mark.parametrize("path", ["/track/{token}", "/track/{token}?lang=de",
                                  "/embed/{token}/", "/embed/{token}/?lang=fr", "ask"])
def test_the_customer_pages_read_as_stock_jinja2_writes_them(app, tenant, create, registry,
                                                             rendered, path):
    """The tracking page and the embed, from the environment of their language, are
    what stock Jinja2 writes from the same templates and values, to the byte."""
    made = create(name='Order #7 - <Vase> & "co"')
    status = f"/api/v1/trackers/{made['id']}/status/"
    app.post_json(status, {"process": "Preparing/Slicing", "action": "complete"},
                  headers=tenant.headers)
    app.post_json(status, {"process": "3D Printing", "action": "start"}, headers=tenant.headers)
    token = made["tracking_token"]
    if path == "ask":  # refused: the page again, with the form's errors and what was typed
        form = app.get(f"/track/{token}").forms["ask-form"]
        form["email"], form["text"] = "not <an> address", "When?"
        form.submit(status=400)
    else:
        app.get(path.format(token=token))
    template, args, kwargs, text = rendered[-1]
    assert template.name.startswith("tracee:templates/tracking/")
    lang = args[0]["lang"]
    joined = translated_templates.environment(registry, lang)
    assert template.environment is joined and joined.code_generator_class is JoinedOutput
    assert isinstance(joined.loader, InlinedIncludes)
    assert "{% include" not in joined.loader.get_source(joined, template.name)[0]
    stock = joined.overlay(cache_size=10, loader=joined.loader.loader)  # includes as written
    stock.code_generator_class = CodeGenerator
    vars(stock).pop("get_template", None)  # its own templates, not those the page env kept
    again = stock.get_template(template.name)
    assert again is not template and again.environment is stock
    assert again.render(*args, **kwargs) == text
    assert "&lt;Vase&gt; &amp; &#34;co&#34;" in text


def test_templates_are_remembered_only_where_they_do_not_reload():
    loader = DictLoader(dict(LAYOUT))
    env = Environment(loader=loader, autoescape=True, auto_reload=False)
    get = translated_templates.remembered(env.get_template)
    page = get("page")
    assert get("page") is page and get("part", "page") is env.get_template("part", "page")
    loader.mapping["page"] = "changed"
    assert get("page").render() != "changed"  # as Jinja2's own cache would answer
    assert get(page) is page and get("flat", None, {"g": 1}).globals["g"] == 1
    for n in range(translated_templates.MAX_REMEMBERED + 5):  # bounded
        loader.mapping[f"t{n}"] = str(n)
        assert get(f"t{n}").render() == str(n)


@pass_context
def loop_item(context):
    return context.get("i", "none")


@pass_context
def set_here(context):
    return context.get("j", "unset")


class Counter:
    @pass_context
    def __call__(self, context, step):
        return f"{context['x']}+{step}"


CALLS = ("{{ plain(x) }}|{{ loop_item() }}|{{ x.upper() }}|{{ len(items) }}|{{ counter(1) }}"
         "{% for i in items %}{{ loop_item() }}{{ plain(i, sep='-') }}{% endfor %}"
         "{% for i in items %}{% set j = i * 2 %}{{ set_here() }}{% endfor %}"
         "{% block b %}{{ set_here() }}{% set j = 'b' %}{{ set_here() }}{% endblock %}")


def test_plain_functions_are_called_straight_and_the_rest_as_stock_calls_them(monkeypatch):
    stock, joined = environments()
    values = {"x": "<a>", "items": ["1", "2"], "plain": lambda v, sep="+": f"{v}{sep}",
              "loop_item": loop_item, "set_here": set_here, "len": len, "counter": Counter()}
    expected = stock.from_string(CALLS).render(values)
    assert expected == "&lt;a&gt;+|none|&lt;A&gt;|2|&lt;a&gt;+1" "none1-none2-" "1122" "unsetb"
    through_context = []
    call = Context.call
    monkeypatch.setattr(Context, "call", lambda *a, **k: (through_context.append(a[1]),
                                                           call(*a, **k))[1])
    assert joined.from_string(CALLS).render(values) == expected
    # A function marked pass_context is called with the context as it is, unless a
    # loop or a block has set a variable it must see: then as Jinja2 calls it (a
    # derived context), as is a callable object whose __call__ is marked.
    assert [getattr(f, "__name__", type(f).__name__) for f in through_context] == [
        "Counter", "set_here", "set_here", "set_here"]


def test_an_include_after_a_trans_shares_the_context_it_was_given(monkeypatch):
    """A ``{% trans %}`` whose variable is a call leaves its value in ``_trans``;
    the included template reads the page's names, not that one, and its context
    is made over the page's own dict instead of a copy of it."""
    layout = {
        "page": "{% block body %}{% trans when=at(1) %}At {{ when }}{% endtrans %}|"
                "{% include 'part' %}{% endblock %}",
        "part": "{{ x }}|{% trans n=at(2) %}{{ n }} more{% endtrans %}",
    }
    parents = []
    made = Context.__init__

    def spy(self, environment, parent, *args, **kwargs):
        parents.append(parent)
        made(self, environment, parent, *args, **kwargs)

    monkeypatch.setattr(Context, "__init__", spy)
    texts = {}
    for name, generator in (("stock", CodeGenerator), ("joined", JoinedOutput)):
        env = Environment(loader=DictLoader(layout), autoescape=True,
                          extensions=[CompiledTranslations])
        env.install_null_translations(newstyle=False)
        env.code_generator_class = generator
        parents.clear()
        texts[name] = env.get_template("page").render(x="<x>", at=lambda n: f"#{n}")
        if name == "joined":
            assert len(parents) == 2 and parents[0] is parents[1]
        else:  # what it was before: the include's context over a copy
            assert len(parents) == 2 and parents[0] is not parents[1]
    assert texts["joined"] == texts["stock"] == "At #1|&lt;x&gt;|#2 more"


PARTS = {
    "sets": '{% set x = "inner" %}<i>{{ x }} {{ y }}</i>\n',
    "nested": '[{% include "sets" %}]\n',
    "macro": '{% macro m() %}m{% endmacro %}{{ m() }}',
    "self": 'once{% if deep %}{% include "self" %}{% endif %}',
}


@pytest.mark.parametrize("page", [
    '{% set x = "outer" %}{% include "sets" %}{{ x }}',
    '{% for y in [1, 2] %}{% include "sets" %}{% endfor %}',
    'a\n  {%- include "nested" -%}\n  b',
    '{% include "macro" %}|{% include "self" %}',
])
def test_a_pasted_include_renders_as_the_include(page):
    """tracee.translated_templates.InlinedIncludes: a partial's sets stay in it, it reads
    the page's variables and loop, whitespace control holds; blocks, macros and cycles
    stay includes."""
    loader = DictLoader({**PARTS, "page": page})
    plain = Environment(loader=loader, autoescape=True)
    pasted = Environment(loader=InlinedIncludes(loader), autoescape=True)
    values = {"y": "<y>", "deep": False}
    assert pasted.get_template("page").render(values) == plain.get_template("page").render(values)
    source = pasted.loader.get_source(pasted, "page")[0]
    assert 'include "sets"' not in source and 'include "nested"' not in source
    assert ('include "macro"' in source) == ("macro" in page)
    assert ('include "self"' in source) == ("self" in page)


def test_a_pasted_include_reloads_with_its_partial():
    loader = DictLoader({"page": '<{% include "part" %}>', "part": "one"})
    env = Environment(loader=InlinedIncludes(loader), auto_reload=True)
    assert env.get_template("page").render() == "<one>"
    loader.mapping["part"] = "two"
    assert env.get_template("page").render() == "<two>"
