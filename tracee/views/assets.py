"""/assets/<sha256>.<ext>: tenants' uploaded images, from our own origin, on every host."""

import re

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config

from tracee.branding.assets import find_asset
from tracee.front_cache import mark_immutable

NAME_RE = re.compile(r"([0-9a-f]{64})\.(png|webp)")
# An image is never a document: nothing in it may run, load or be framed.
ASSET_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"


@view_config(route_name="asset", request_method=("GET", "HEAD"))
def asset(request):
    match = NAME_RE.fullmatch(request.matchdict["name"])
    found = find_asset(request.db, match.group(1)) if match else None
    if found is None or found[0] != f"image/{match.group(2)}":
        raise HTTPNotFound()
    content_type, data = found
    response = request.response
    response.content_type = content_type
    response.body = data
    response.headers.update({
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": ASSET_CSP,
        "ETag": f'"{match.group(1)}"',
    })
    # The bytes behind a hash never change: each worker answers repeats in front.
    mark_immutable(request)
    return response


def includeme(config):
    config.add_route("asset", "/assets/{name}",
                     factory="tracee.tenancy.resources.PlatformRoot")
