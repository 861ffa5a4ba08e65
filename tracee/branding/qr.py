"""QR codes of tracking URLs, as PNG.

Rendering is pure (same URL and size, same bytes), so results are kept in
a small LRU cache and served with an ETag derived from the bytes.
"""

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_M

MIN_SIZE, DEFAULT_SIZE, MAX_SIZE = 64, 300, 1200
BORDER_MODULES = 4  # the quiet zone scanners need


@dataclass(frozen=True)
class QrImage:
    png: bytes
    etag: str  # the opaque tag, without quotes (WebOb adds and strips them)


@lru_cache(maxsize=2048)
def render_qr(url: str, size: int = DEFAULT_SIZE) -> QrImage:
    """A PNG at least ``size`` pixels wide (whole pixels per module keep it sharp)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER_MODULES)
    code.add_data(url)
    code.make(fit=True)
    modules = code.modules_count + 2 * BORDER_MODULES
    code.box_size = max(1, -(-size // modules))
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    png = buffer.getvalue()
    return QrImage(png, hashlib.sha256(png).hexdigest()[:32])


def qr_response(request, url: str, size: int, cache_control: str):
    image = render_qr(url, size)
    response = request.response
    response.etag = image.etag
    response.headers["Cache-Control"] = cache_control
    # if_none_match holds the tags unquoted: comparing the quoted form never matched.
    if image.etag in request.if_none_match:
        response.status = 304
        del response.content_type  # a 304 has no content to describe
        return response
    response.content_type = "image/png"
    response.body = image.png
    return response
