"""``?page`` and ``?per_page`` for the API's lists, and their Link header."""

from urllib.parse import urlencode

import colander

from tracee.api.schemas import QueryInteger


class PageQuery(colander.MappingSchema):
    page = colander.SchemaNode(QueryInteger(), missing=1, validator=colander.Range(1, 100_000))
    per_page = colander.SchemaNode(QueryInteger(), missing=25, validator=colander.Range(1, 100))


def page_links(request, path: str, page: int, per_page: int, total: int,
               filters: dict[str, str]) -> str:
    """RFC 8288 links to the first, last, previous and next pages of ``path``.

    Only ``filters`` (the list's own, as validated) are repeated: anything else in
    the query string (an api_key, above all) must not be copied into a header.
    """
    last = max(1, -(-total // per_page))
    pages = {"first": 1, "last": last}
    if page > 1:
        pages["prev"] = min(page - 1, last)
    if page < last:
        pages["next"] = page + 1
    base = request.urls.base + path
    links = []
    for rel, number in pages.items():
        query = {**filters, "page": str(number), "per_page": str(per_page)}
        links.append(f'<{base}?{urlencode(query)}>; rel="{rel}"')
    return ", ".join(links)


def paginate(request, path: str, params: dict, total: int,
             filters: dict[str, str] | None = None) -> None:
    """Set ``X-Total-Count`` and ``Link`` on the response."""
    request.response.headers["X-Total-Count"] = str(total)
    request.response.headers["Link"] = page_links(
        request, path, params["page"], params["per_page"], total, filters or {}
    )
