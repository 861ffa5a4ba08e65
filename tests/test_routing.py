"""Route matching by first segment (tracee.routing) picks the route Pyramid's
own mapper picks, for every path, trying fewer patterns."""

import uuid
from types import SimpleNamespace

import pytest
from pyramid.interfaces import IRoutesMapper
from pyramid.urldispatch import RoutesMapper

from tracee.routing import (
    SegmentRoutesMapper,
    first_literal_segment,
    literal_prefix,
    literal_segments,
)


@pytest.mark.parametrize(("pattern", "segment"), [
    ("api/v1/trackers/{id}{_slash:/?}", "api"),
    ("/login", "login"),
    ("/login/two-factor", "login"),
    ("/account/*traverse", "account"),
    ("static/*subpath", "static"),
    ("/", ""),
    ("/*traverse", None),
    ("/{name}", None),
    ("/dash{rest}/x", None),
    ("/dash*rest", None),
    ("/a:b/c", None),  # Pyramid's old form of /a{b}/c
])
def test_first_literal_segment(pattern, segment):
    assert first_literal_segment(pattern) == segment


@pytest.mark.parametrize(("pattern", "literal"), [
    ("api/v1/trackers/{id}{_slash:/?}", "/api/v1/trackers/"),
    ("/account/*traverse", "/account/"),
    ("/dash*rest", "/dash"),
    ("/", "/"),
    ("/a:b/c", "/a"),
])
def test_literal_prefix(pattern, literal):
    assert literal_prefix(pattern) == literal


@pytest.mark.parametrize(("pattern", "segments"), [
    ("api/v1/trackers/{id}{_slash:/?}", ("api", "v1", "trackers")),
    ("api/v1/branding{_slash:/?}", ("api", "v1")),
    ("/login/two-factor", ("login", "two-factor")),
    ("/dashboard/", ("dashboard", "")),
    ("/account/*traverse", ("account",)),
    ("/", ("",)),
    ("/*traverse", ()),
    ("/dash{rest}/x", ()),
])
def test_literal_segments(pattern, segments):
    assert literal_segments(pattern) == segments


def plain_copy(mapper) -> RoutesMapper:
    plain = RoutesMapper()
    for route in mapper.get_routes():
        plain.connect(route.name, route.pattern, route.factory, route.predicates)
    return plain


def paths_for(routes) -> list[str]:
    paths = ["/", "", "//api/v1/trackers/1/", "/api", "/api/", "/apix/v1/trackers/1/",
             "/dashboard", "/dashboardx", "/dashboard/", "/dashboard/keys", "/account",
             "/account/", "/static/tracee.css", "/track/x", f"/track/{uuid.uuid4()}",
             f"/embed/{uuid.uuid4()}/", f"/./track/{uuid.uuid4()}", "/.well-known/tracee/tls-ask",
             "/login/", "/API/v1/trackers/1/", "/api/v1/trackers/1/qr", "/docs/api/"]
    for route in routes:
        path = "/" + route.pattern.lstrip("/")
        for fill in ("1", "x", "a-b"):
            filled = path.replace("{_slash:/?}", "")
            while "{" in filled:
                start = filled.index("{")
                filled = filled[:start] + fill + filled[filled.index("}", start) + 1:]
            filled = filled.replace("*traverse", "a/b").replace("*subpath", "c.css")
            paths += [filled, filled + "/", filled + "x", filled.rstrip("/") + "/extra"]
    return paths


def test_the_same_route_matches_as_with_pyramids_mapper(registry):
    mapper = registry.getUtility(IRoutesMapper)
    assert isinstance(mapper, SegmentRoutesMapper)
    plain = plain_copy(mapper)
    for path in paths_for(mapper.get_routes()):
        request = SimpleNamespace(path_info=path)
        expected, got = plain(request), mapper(request)
        assert (got["route"] and got["route"].name) == (
            expected["route"] and expected["route"].name), path
        assert got["match"] == expected["match"], path


def test_hot_paths_try_only_their_own_routes(registry):
    mapper = registry.getUtility(IRoutesMapper)
    everything = len(mapper.get_routes())
    api = mapper.candidates("/api/v1/trackers/1/")
    assert 0 < len(api) < everything
    assert all(route.pattern.lstrip("/").startswith("api/v1/") for _, route in api)
    assert ("/api/v1/trackers/", mapper.get_route("tracker")) in api
    # Tracking pages and the embed are traversal's: no route can match them.
    assert mapper.candidates(f"/track/{uuid.uuid4()}") == []
    assert mapper.candidates(f"/embed/{uuid.uuid4()}/") == []
