"""/branding/logo and /branding/favicon: an image file sent as base64 JSON.

Checked, re-encoded and kept as the dashboard's upload is
(tracee.branding.assets.upload_image); the theme's logo_url or favicon_url
then names its address on our own origin.
"""

import base64
import binascii

import colander

from tracee.api.errors import api_error
from tracee.api.openapi import operation
from tracee.api.schemas import StrictString, json_body
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import THEME_EXAMPLE, ref
from tracee.branding.assets import upload_image
from tracee.branding.images import MAX_UPLOAD_BYTES, ImageRefused
from tracee.branding.theme import ThemeError

logo = api_service("branding_logo", "/branding/logo")
favicon = api_service("branding_favicon", "/branding/favicon")
MAX_BASE64 = -(-MAX_UPLOAD_BYTES // 3) * 4
MAX_BODY = MAX_BASE64 + 1024


class ImageFile(colander.MappingSchema):
    content_base64 = colander.SchemaNode(
        StrictString(), validator=colander.Length(max=MAX_BASE64),
        description=f"the file's bytes in base64: PNG, JPEG, WebP or GIF, at most "
        f"{MAX_UPLOAD_BYTES // 1024} KB (SVG is refused)")


def _upload(request, kind: str) -> dict:
    try:
        data = base64.b64decode(request.validated["content_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise api_error(400, "content_base64 is not valid base64", name="content_base64") from None
    try:
        return upload_image(request.db, request.context.tenant_id, kind, data)
    except ImageRefused as exc:
        raise api_error(400, str(exc), name="content_base64") from None
    except ThemeError as exc:
        raise api_error(400, str(exc), name=exc.field) from None


_EXAMPLE = {"content_base64": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
                              "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}


@logo.put(validators=(json_body(ImageFile(), max_bytes=MAX_BODY),))
@operation(200, ref("Branding"), "Upload the logo", example=THEME_EXAMPLE, tag="branding",
           request_example=_EXAMPLE)
def put_logo(request):
    """Re-encoded without its metadata (as PNG, or WebP for a heavy photograph), scaled
    into 1024×512, kept by Tracee and served from `/assets/<sha256>.png`, which
    `logo_url` then names. `PUT /branding/` with `"logo_url": null` removes it."""
    return _upload(request, "logo")


@favicon.put(validators=(json_body(ImageFile(), max_bytes=MAX_BODY),))
@operation(200, ref("Branding"), "Upload the favicon", example=THEME_EXAMPLE, tag="branding",
           request_example=_EXAMPLE)
def put_favicon(request):
    """As the logo, scaled into 256×256; `favicon_url` then names it."""
    return _upload(request, "favicon")
