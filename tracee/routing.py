"""Route matching that tries only the routes a path's leading segments can match.

Pyramid's mapper tries every route in the order added until one matches: an
API address went through about twenty patterns, and a tracking page, which
no route matches (traversal serves it), through all of them. A route's
pattern starts with a literal text, and a path it matches starts with that
text; so a route whose literal names whole leading segments
(``/api/v1/trackers/...``, ``/login``) can only match a path that starts
with those segments. The mapper files each route under the segments its
literal fixes, in a tree of segments, and keeps at each node the routes
filed there or above it (routes that fix no segment are in every list), in
the order added; a path walks the tree as far as its own segments lead and
tries only that node's routes: the same route wins for every path, with
fewer patterns tried.
"""

from pyramid.exceptions import URLDecodeError
from pyramid.interfaces import IRoutesMapper
from pyramid.urldispatch import RoutesMapper, old_route_re, route_re, star_at_end, update_pattern

ANY = None  # the first segment of a route that fixes none


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


def literal_segments(pattern: str) -> tuple[str, ...]:
    """The whole leading segments every path the pattern matches has."""
    literal = literal_prefix(pattern)
    segments = literal[1:].split("/")
    if literal != "/" + pattern.lstrip("/"):
        segments.pop()  # a placeholder may continue the last one
    return tuple(segments)


def first_literal_segment(pattern: str) -> str | None:
    """The first path segment every path the pattern matches has, if the pattern fixes it."""
    segments = literal_segments(pattern)
    return segments[0] if segments else ANY


class _Node:
    __slots__ = ("children", "routes")

    def __init__(self):
        self.children: dict[str, _Node] = {}
        self.routes: list = []  # (literal prefix, route) that may match a path reaching here


class SegmentRoutesMapper(RoutesMapper):
    def __init__(self):
        super().__init__()
        self._root: _Node | None = None

    def connect(self, *args, **kw):
        self._root = None  # rebuilt at the next match
        return super().connect(*args, **kw)

    def _index(self) -> _Node:
        filed = [(literal_segments(r.pattern), (literal_prefix(r.pattern), r))
                 for r in self.routelist]
        root = _Node()
        for segments, _ in filed:
            node = root
            for segment in segments:
                node = node.children.setdefault(segment, _Node())

        def fill(node: _Node, path: tuple[str, ...]) -> None:
            node.routes = [pair for segments, pair in filed if path[:len(segments)] == segments]
            for segment, child in node.children.items():
                fill(child, (*path, segment))

        fill(root, ())
        self._root = root
        return root

    def candidates(self, path: str) -> list:
        """(literal prefix, route) of the routes that may match ``path``, in the order added."""
        node = self._root
        if node is None:
            node = self._index()
        if path.startswith("/"):
            children = node.children
            for segment in path[1:].split("/"):
                child = children.get(segment)
                if child is None:
                    break
                node, children = child, child.children
        return node.routes

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
