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


def first_literal_segment(pattern: str) -> str | None:
    """The first path segment every path the pattern matches has, if the pattern fixes it.

    Reads the pattern as ``pyramid.urldispatch._compile_route`` compiles it.
    """
    if old_route_re.search(pattern) and not route_re.search(pattern):
        pattern = old_route_re.sub(update_pattern, pattern)
    if not pattern.startswith("/"):
        pattern = "/" + pattern
    literal = route_re.split(pattern)[0]
    remainder = star_at_end.search(literal)
    if remainder is not None:
        literal = literal[:remainder.start()]
    segment, slash, _ = literal[1:].partition("/")
    if slash or (literal == pattern and remainder is None):  # the literal ends the segment
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
        routes = [(first_literal_segment(r.pattern), r) for r in self.routelist]
        self._any_segment = [r for s, r in routes if s is ANY]
        self._by_segment = {
            segment: [r for s, r in routes if s in (segment, ANY)]
            for segment in {s for s, _ in routes} - {ANY}
        }
        return self._by_segment

    def candidates(self, path: str) -> list:
        by_segment = self._by_segment
        if by_segment is None:
            by_segment = self._index()
        if not path.startswith("/"):
            return self._any_segment
        return by_segment.get(path[1:].partition("/")[0], self._any_segment)

    def __call__(self, request):
        # RoutesMapper.__call__, over the candidates only.
        try:
            path = request.path_info or "/"
        except KeyError:
            path = "/"
        except UnicodeDecodeError as e:
            raise URLDecodeError(e.encoding, e.object, e.start, e.end, e.reason) from None
        for route in self.candidates(path):
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
