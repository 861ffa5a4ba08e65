"""The tracking page's blank forms, made once per language, are the template's own."""

import re

import pytest

import tracee.views.tracking
from tracee.i18n import LANGUAGES
from tracee.views import page_forms

# What differs between two views of one page: the style nonce and the forms' tokens
# (their time, to the second).
VARYING = re.compile(r'nonce="[^"]+"|name="form_token" value="[^"]+"')


def page(app, token: str, lang: str) -> str:
    return VARYING.sub("", app.get(f"/track/{token}", headers={"Accept-Language": lang}).text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_page_with_blank_forms_is_the_page_the_template_writes(app, create, lang, monkeypatch):
    token = create()["tracking_token"]
    filled = page(app, token, lang)
    monkeypatch.setattr(tracee.views.tracking, "blank_forms", lambda request, view: None)
    assert filled == page(app, token, lang)
    assert 'id="subscribe-form"' in filled and 'id="ask-form"' in filled


def test_the_values_are_escaped_where_the_template_would_escape_them(app, create):
    token = create()["tracking_token"]
    html = app.get(f"/track/{token}", extra_environ={"SCRIPT_NAME": '/a"<b>'}).text
    assert 'action="/a&#34;&lt;b&gt;/track/' in html
    assert '/a"<b>' not in html


def test_a_form_that_is_not_blank_is_left_to_the_template(app, create):
    token = create()["tracking_token"]
    html = app.get(f"/track/{token}?sent=1").text
    assert "Thank you: your question was sent." in html


def test_a_forms_template_without_each_value_once_is_refused():
    whole = "".join(f"<i>{marker}</i>" for marker in page_forms._MARKERS.values())
    assert page_forms.split(whole)[1::2] == page_forms._VALUES
    marker = page_forms._MARKERS["ask_token"]
    for broken in (whole.replace(marker, ""), whole + marker):
        with pytest.raises(ValueError, match="ask_token once"):
            page_forms.split(broken)
