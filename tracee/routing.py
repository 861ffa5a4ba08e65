"""Route matching that tries only the routes a path's first segment can match.

Pyramid's mapper tries every route in the order added until one matches: an
API address went through about twenty patterns, and a tracking page, which
no route matches (traversal serves it), through all of them. A route's
pattern starts with a literal text, and a path it matches starts with that
text; so a route whose literal names a whole first segment (``/api/...``,
``/login``) can only match a path with that first segment. The mapper keeps,
for each such segment, the routes that may match it, in the order added
(routes without a literal first segment are in every list), and tries only
those: the same route wins for every path, with fewer patterns tried.
"""

from pyramid.exceptions import URLDecodeError
from pyramid.interfaces import IRoutesMapper
from pyramid.urldispatch import RoutesMapper, old_route_re, route_re, star_at_end, update_pattern

ANY = None  # the first segment of a route that may match any


def literal_prefix(pattern: str) -> str:
    """The text every path the pattern matches starts with, read as
    ``pyramid.urldispatch._compile_route`` compiles the pattern."""
    if old_route_re.search(pattern) and not route_re.search(pattern):
        pattern = old_route_re.sub(update_pattern, pattern)
    if not pattern.startswith("/"):
        pattern = "/" + pattern
    literal = route_re.split(pattern)[0]
    remainder = star_at_end.search(literal)
    return literal if remainder is None else literal[:remainder.start()]


def first_literal_segment(pattern: str) -> str | None:
    """The first path segment every path the pattern matches has, if the pattern fixes it."""
    literal = literal_prefix(pattern)
    segment, slash, _ = literal[1:].partition("/")
    if slash or literal == "/" + pattern.lstrip("/"):  # the literal ends the segment
        return segment
    return ANY


class SegmentRoutesMapper(RoutesMapper):
    def __init__(self):
        super().__init__()
        self._by_segment: dict[str, list] | None = None
        self._any_segment: list = []

    def connect(self, *args, **kw):
        self._by_segment = None  # rebuilt at the next match
        return super().connect(*args, **kw)

    def _index(self) -> dict[str, list]:
        routes = [(first_literal_segment(r.pattern), (literal_prefix(r.pattern), r))
                  for r in self.routelist]
        self._any_segment = [pair for s, pair in routes if s is ANY]
        self._by_segment = {
            segment: [pair for s, pair in routes if s in (segment, ANY)]
            for segment in {s for s, _ in routes} - {ANY}
        }
        return self._by_segment

    def candidates(self, path: str) -> list:
        """(literal prefix, route) of the routes that may match ``path``, in the order added."""
        by_segment = self._by_segment
        if by_segment is None:
            by_segment = self._index()
        if not path.startswith("/"):
            return self._any_segment
        return by_segment.get(path[1:].partition("/")[0], self._any_segment)

    def __call__(self, request):
        # RoutesMapper.__call__, over the candidates only; a route's pattern is
        # tried only where the path starts with its literal text, as the
        # pattern's own regex would first check.
        try:
            path = request.path_info or "/"
        except KeyError:
            path = "/"
        except UnicodeDecodeError as e:
            raise URLDecodeError(e.encoding, e.object, e.start, e.end, e.reason) from None
        for literal, route in self.candidates(path):
            if not path.startswith(literal):
                continue
            match = route.match(path)
            if match is not None:
                predicates = route.predicates
                info = {"match": match, "route": route}
                if predicates and not all(p(info, request) for p in predicates):
                    continue
                return info
        return {"route": None, "match": None}


def includeme(config):
    # Before any route is added: Configurator.add_route takes the mapper registered then.
    config.registry.registerUtility(SegmentRoutesMapper(), IRoutesMapper)
