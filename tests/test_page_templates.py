"""Tenant page templates: the sandbox, the budget, versions, inheritance and caching."""

import time

import pytest
from conftest import make_app
from webtest import TestApp

from tracee.branding import sandbox
from tracee.branding.sandbox import RenderError, TemplateRefused, compile_source, render

CONTEXT = {"tracker": {"name": "<b>Vase</b>", "steps": [{"name": "Glaze"}]}, "brand": {},
           "urls": {}}

# (payload, refused at save?) Every one must be refused at save or stopped at render,
# quickly, and never print anything of the server's.
ESCAPES = [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", True),
    ("{{ ''['__class__'] }}", True),
    ("{{ tracker.__class__ }}", True),
    ("{{ tracker|attr('__class__') }}", True),
    ("{{ (tracker|attr('\\x5f\\x5fclass\\x5f\\x5f')) }}", True),
    ("{{ self.__init__.__globals__ }}", True),
    ("{{ cycler.__init__.__globals__.os }}", True),
    ("{{ lipsum.__globals__['os'].popen('id').read() }}", True),
    ("{{ range.__self__ }}", True),
    ("{{ tracker.name|safe }}", True),
    ("{% autoescape false %}{{ tracker.name }}{% endautoescape %}", True),
    ("{% include '/etc/passwd' %}", True),
    ("{% extends 'tracee:templates/base.jinja2' %}", True),
    ("{% import 'x' as x %}", True),
    ("{{ 'a' ~ 'b' }}", True),
    ("{{ tracker.name|format() }}", True),
    ("{{ 'x'|center(1000000000) }}", True),
    ("{{ '{0.__class__}'.format(tracker) }}", False),
    ("{{ '{0.name.__class__.__mro__}'.format(tracker) }}", False),
    ("{{ '{:>999999999}'.format(1) }}", False),
    ("{{ '{}'.format_map(tracker) }}", False),
    ("{{ '%999999999d' % 1 }}", False),
    ("{{ 'x'.ljust(1000000000) }}", False),
    ("{{ (1).to_bytes(1000000000, 'big') }}", False),
    ("{{ dict.mro() }}", False),
    ("{{ tracker.steps.append(1) }}", False),
    ("{{ tracker.name.__len__ }}", True),
    ("{% for i in range(10**9) %}{% endfor %}", False),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", False),
    ("{% for s in tracker.steps * 1000 %}{% for t in tracker.steps * 1000 %}"
     "{% for u in tracker.steps * 1000 %}{% endfor %}{% endfor %}{% endfor %}", False),
    ("{{ 'x' * 10**9 }}", False),
    ("{{ 10 ** 100000 }}", False),
    ("{% set s = 'x' * 500000 %}{{ [s, s, s]|join }}", False),
    ("{% set s = 'x' * 100000 %}{% for i in range(100) %}{{ s }}{% endfor %}", False),
    ("{% set s = 'x' * 100000 %}{{ [s, s, s, s, s, s, s] }}", False),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", False),
    ("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", False),
    ("{{ 1/0 }}", False),
]


@pytest.mark.parametrize(("payload", "at_save"), ESCAPES, ids=[p[:40] for p, _ in ESCAPES])
def test_known_escapes_are_refused_at_save_or_stopped_at_render(payload, at_save):
    started = time.monotonic()
    if at_save:
        with pytest.raises(TemplateRefused, match=r"^line 1: "):
            compile_source(payload)
        return
    template = compile_source(payload)
    with pytest.raises(RenderError) as stopped:
        render(template, CONTEXT)
    assert time.monotonic() - started < 1.5
    message = str(stopped.value)
    assert "<" not in message and "0x" not in message and "/" not in message  # no reprs, paths


def test_a_spinning_loop_is_interrupted_by_the_watchdog():
    # No call and no output inside: only the watchdog can stop it.
    template = compile_source("{% for s in tracker.steps * 5000 %}{% for t in tracker.steps "
                              "* 5000 %}{% if s == t %}{% endif %}{% endfor %}{% endfor %}")
    started = time.thread_time()
    with pytest.raises(RenderError, match="ms of CPU") as stopped:
        render(template, CONTEXT)
    assert stopped.value.over_budget
    assert time.thread_time() - started < 0.5
    # The thread is usable again, and nothing is left pending for it.
    assert render(compile_source("{{ tracker.name }}"), CONTEXT) == "&lt;b&gt;Vase&lt;/b&gt;"
    time.sleep(0.1)
    assert sum(range(1000)) == 499500


def test_autoescape_is_always_on_and_plain_templates_work():
    source = ("{% for s in tracker.steps %}<li>{{ s.name|upper }}</li>{% endfor %}"
              "{{ tracker.name }}{{ tracker.missing }}")
    assert render(compile_source(source), CONTEXT) == "<li>GLAZE</li>&lt;b&gt;Vase&lt;/b&gt;"


def test_a_source_over_64_kb_or_with_a_syntax_error_is_refused_with_its_line():
    with pytest.raises(TemplateRefused, match="64 KB"):
        compile_source("x" * (sandbox.MAX_SOURCE_BYTES + 1))
    with pytest.raises(TemplateRefused, match="^line 3: "):
        compile_source("<p>\n</p>\n{% for x in %}")


# --- the API and the pages ---------------------------------------------------------------

GOOD = ("<!doctype html><title>{{ tracker.name }}</title><h1 class=custom>{{ brand.display_name }}"
        "</h1><p>{{ tracker.headline }}</p><ol>{% for s in tracker.steps %}<li>{{ s.label }} "
        "{{ s.status }}</li>{% endfor %}</ol>")
EMBED = "<div class=custom-embed>{{ tracker.name }} #{{ tracker.number }}</div>"


@pytest.fixture
def family(make_tenant):
    return make_tenant("agency", "Agency"), make_tenant("client", "Client", parent="agency")


def _path(handle):
    return f"/api/v1/branding/templates/{handle}"


def _tracker_page(app, handle):
    tracker = app.post_json("/api/v1/trackers/", {"name": "Vase <i>#1</i>", "template":
                                                  "3d-printing"}, headers=handle.headers).json
    token = tracker["tracking_token"]
    return f"/track/{token}", f"/embed/{token}/"


def test_publish_render_versions_and_rollback(app, tenant):
    headers = tenant.headers
    empty = app.get(_path("tracking"), headers=headers).json
    assert empty == {"kind": "tracking", "version": None, "source": None,
                     "inherited_from": None, "last_render_error": None}
    page, embed = _tracker_page(app, tenant)
    assert "class=custom" not in app.get(page).text
    published = app.put_json(_path("tracking"), {"source": GOOD}, headers=headers).json
    assert (published["version"], published["source"]) == (1, GOOD)
    html = app.get(page).text
    assert "<h1 class=custom>Acme Prints</h1>" in html and "Vase &lt;i&gt;#1&lt;/i&gt;" in html
    assert "Quality Check" not in html  # hidden steps are not in the context
    assert "class=custom-embed" not in app.get(embed).text  # each kind on its own
    app.put_json(_path("embed"), {"source": EMBED}, headers=headers)
    assert "class=custom-embed>Vase &lt;i&gt;#1&lt;/i&gt; #1<" in app.get(embed).text

    app.put_json(_path("tracking"), {"source": "<p>second</p>"}, headers=headers)
    assert app.get(page).text == "<p>second</p>"
    reset = app.delete(_path("tracking"), headers=headers).json
    assert reset["version"] is None and reset["source"] is None
    assert "class=\"card\"" in app.get(page).text  # the built-in page
    restored = app.post(_path("tracking") + "/versions/1/restore", headers=headers).json
    assert restored["source"] == GOOD and restored["version"] == 4
    listed = app.get(_path("tracking") + "/versions", headers=headers).json
    assert [(v["version"], v["restored_from"], v["source"] is None) for v in listed] == [
        (4, 1, False), (3, None, True), (2, None, False), (1, None, False)]
    app.post(_path("tracking") + "/versions/9/restore", headers=headers, status=404)
    app.get(_path("nowhere"), headers=headers, status=404)


@pytest.mark.parametrize(("source", "line"), [
    ("<p>\n{{ x.__class__ }}", 2),
    ("<p>\n\n{% for %}", 3),
    ("{{ x|safe }}", 1),
])
def test_an_unsafe_source_is_a_400_with_its_line(app, tenant, source, line):
    refused = app.put_json(_path("tracking"), {"source": source}, headers=tenant.headers,
                           status=400).json["errors"][0]
    assert refused["name"] == "source" and refused["description"].startswith(f"line {line}: ")
    assert app.get(_path("tracking") + "/versions", headers=tenant.headers).json == []


def test_the_64_kb_limit_is_a_400_even_when_json_doubles_it(app, tenant):
    big = '"' * (sandbox.MAX_SOURCE_BYTES + 1)  # escaped in JSON: twice as long
    refused = app.put_json(_path("tracking"), {"source": big}, headers=tenant.headers,
                           status=400).json
    assert refused["errors"][0]["name"] == "source"
    fits = '"' * (sandbox.MAX_SOURCE_BYTES - 10)
    app.put_json(_path("tracking"), {"source": fits}, headers=tenant.headers, status=200)


def test_an_agencys_template_applies_to_its_clients_unless_overridden(app, family):
    agency, client = family
    page, _ = _tracker_page(app, client)
    app.put_json(_path("tracking"), {"source": GOOD}, headers=agency.headers)
    assert "<h1 class=custom>Client</h1>" in app.get(page).text
    state = app.get(_path("tracking"), headers=client.headers).json
    assert state["inherited_from"] == "agency" and state["source"] is None
    app.put_json(_path("tracking"), {"source": "<p>own</p>"}, headers=client.headers)
    assert app.get(page).text == "<p>own</p>"
    app.delete(_path("tracking"), headers=client.headers)
    assert "<h1 class=custom>Client</h1>" in app.get(page).text  # the agency's again
    # The agency publishing for its client with Tracee-Tenant is the client's template.
    app.put_json(_path("tracking"), {"source": "<p>set by the agency</p>"},
                 headers={**agency.headers, "Tracee-Tenant": "client"})
    assert app.get(page).text == "<p>set by the agency</p>"
    assert app.get(_path("tracking"), headers=agency.headers).json["source"] == GOOD


def test_a_hostile_template_serves_the_default_page_and_tells_its_author(app, family):
    agency, client = family
    page, _ = _tracker_page(app, client)
    spin = ("{% for s in range(10000) %}{% for t in range(10000) %}{% endfor %}{% endfor %}")
    app.put_json(_path("tracking"), {"source": spin}, headers=agency.headers)
    started = time.monotonic()
    response = app.get(page, status=200)
    assert "class=\"card\"" in response.text and time.monotonic() - started < 1.5
    error = app.get(_path("tracking"), headers=agency.headers).json["last_render_error"]
    assert error["version"] == 1 and "ms of CPU" in error["message"]
    # Over budget once, never tried again by this worker: the next page is at full speed.
    started = time.monotonic()
    app.get(page, status=200)
    assert time.monotonic() - started < 0.5
    # The client sees no error of its own: the template is its agency's.
    assert app.get(_path("tracking"), headers=client.headers).json["last_render_error"] is None


def test_every_worker_sees_a_new_template_on_its_next_page(app, tenant, database):
    page, _ = _tracker_page(app, tenant)
    other_worker = TestApp(make_app(database))
    assert "class=\"card\"" in other_worker.get(page).text
    app.put_json(_path("tracking"), {"source": "<p>v1</p>"}, headers=tenant.headers)
    assert other_worker.get(page).text == "<p>v1</p>"
    app.put_json(_path("tracking"), {"source": "<p>v2</p>"}, headers=tenant.headers)
    assert other_worker.get(page).text == "<p>v2</p>"


def test_the_context_is_plain_data_and_documented(app, tenant):
    source = ("{{ tracker.number }}|{{ tracker.is_completed }}|{{ tracker.current_step.label }}|"
              "{{ tracker.steps|length }}|{{ brand.brand_color }}|{{ urls.tracking }}|"
              "{{ tracker.steps[0].keys()|list|join(',') }}|{{ brand.keys()|list|length }}")
    app.put_json(_path("tracking"), {"source": source}, headers=tenant.headers)
    tracker = app.post_json("/api/v1/trackers/", {"name": "Order #77", "template": "3d-printing"},
                            headers=tenant.headers).json
    app.post_json(f"/api/v1/trackers/{tracker['id']}/status/",
                  {"process": "3D Printing", "action": "start"}, headers=tenant.headers)
    number, done, current, steps, color, url, keys, brand = app.get(
        f"/track/{tracker['tracking_token']}").text.split("|")
    assert (number, done, current, steps, color) == ("77", "False", "3D Printing", "5", "#4f46e5")
    assert url == tracker["tracking_url"]
    assert keys == "name,label,description,status,status_label,started_at,completed_at"
    assert int(brand) >= 14
