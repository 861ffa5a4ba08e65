"""Customer pages' templates, translated as they compile (tracee.translated_templates)."""

import pytest
from jinja2 import DictLoader, Environment

from tracee import translated_templates
from tracee.i18n import translations
from tracee.translated_templates import CompiledTranslations

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
