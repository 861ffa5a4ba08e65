"""The application's response class hands the server what WebOb's would."""

import pytest
from pyramid.interfaces import IResponseFactory
from pyramid.response import Response as WebObResponse
from webob import Request

from tracee.response import Response


def served(response) -> tuple[str, list]:
    seen = []
    body = response(Request.blank("/track/x", base_url="https://shop.example").environ,
                    lambda status, headers, exc_info=None: seen.append((status, headers)))
    assert b"".join(body) == response.body
    return seen[0]


@pytest.mark.parametrize("headers", [
    [],
    [("Location", "/dashboard/")],
    [("location", "elsewhere")],
    [("X-Location-Hint", "kept"), ("Cache-Control", "no-store")],
    [("Vary", "Accept-Language"), ("LOCATION", "//evil.example/")],
])
def test_the_server_gets_the_headers_webob_would_give_it(headers):
    ours, theirs = Response(b"body"), WebObResponse(b"body")
    for response in (ours, theirs):
        response.headerlist.extend(headers)
    assert served(ours) == served(theirs)


def test_a_redirect_is_still_made_absolute():
    response = Response(status=302)
    response.headerlist.append(("Location", "/dashboard/"))
    assert ("Location", "https://shop.example/dashboard/") in served(response)[1]


def test_the_list_handed_over_is_a_copy():
    response = Response(b"x")
    handed = served(response)[1]
    handed.append(("X-Later", "1"))
    assert ("X-Later", "1") not in response.headerlist


def test_put_headers_replaces_any_of_the_same_name_whatever_its_case():
    response = Response(b"x")
    response.headerlist.extend([("cache-control", "public"), ("X-Kept", "1")])
    response.put_headers(("Cache-Control", "private, no-cache"), ("Vary", "Accept-Language"))
    assert response.headers.getall("Cache-Control") == ["private, no-cache"]
    assert response.headers["Vary"] == "Accept-Language"
    assert response.headers["X-Kept"] == "1"
    assert [name for name, _ in response.headerlist].count("Vary") == 1


def test_pages_are_made_with_it(app, create):
    tracker = create()
    page = app.get(f"/track/{tracker['tracking_token']}")
    assert page.headers["Vary"] == "Accept-Language"
    assert len(page.headers.getall("Cache-Control")) == 1
    assert isinstance(app.app.registry.getUtility(IResponseFactory)(None), Response)


def test_put_body_is_what_webob_makes_of_a_content_type_and_a_body():
    ours, theirs = Response(), WebObResponse()
    for response in (ours, theirs):
        response.headerlist.extend([("content-length", "9"), ("Content-MD5", "stale")])
    ours.put_body(b"<p>hi</p>", "text/html; charset=UTF-8")
    theirs.content_type = "text/html"
    theirs.body = b"<p>hi</p>"
    assert sorted(ours.headerlist) == sorted(theirs.headerlist)
    assert ours.body == theirs.body == b"<p>hi</p>"


@pytest.mark.parametrize("body, content_type", [
    (b"", "text/html; charset=UTF-8"), (b'{"id": 1}', "application/json"),
    ("caf\u00e9".encode(), "text/plain; charset=UTF-8"),
])
def test_of_makes_what_webobs_constructor_makes(body, content_type):
    ours, theirs = Response.of(body, content_type), WebObResponse(body=body,
                                                                  content_type=content_type)
    assert ours.__dict__ == theirs.__dict__
    assert served(ours) == served(theirs)


def test_the_factorys_response_is_webobs_default_one():
    from tracee.response import response_factory

    assert response_factory(None).__dict__ == WebObResponse().__dict__
