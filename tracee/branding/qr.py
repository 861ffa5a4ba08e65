"""QR codes of tracking URLs, as PNG.

Rendering is pure (same URL and size, same bytes), so results are kept in
a small LRU cache and served with an ETag derived from the bytes.
"""

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

MIN_SIZE, DEFAULT_SIZE, MAX_SIZE = 64, 300, 1200
BORDER_MODULES = 4  # the quiet zone scanners need
# Any of the eight masks scans; choosing the "best" one made qrcode build the
# symbol nine times, three quarters of the render time.
MASK_PATTERN = 2


@dataclass(frozen=True)
class QrImage:
    png: bytes
    etag: str  # the opaque tag, without quotes (WebOb adds and strips them)


@lru_cache(maxsize=2048)
def render_qr(url: str, size: int = DEFAULT_SIZE) -> QrImage:
    """A PNG at least ``size`` pixels wide (whole pixels per module keep it sharp)."""
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M, border=BORDER_MODULES, mask_pattern=MASK_PATTERN
    )
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()  # with the quiet zone
    modules = len(matrix)
    box = max(1, -(-size // modules))
    # One pixel per module, scaled up by whole pixels in C: cheaper than
    # drawing a rectangle per dark module. Black on white, 1 bit per pixel.
    image = Image.new("1", (modules, modules))
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    image = image.resize((modules * box, modules * box), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    png = buffer.getvalue()
    return QrImage(png, hashlib.sha256(png).hexdigest()[:32])


def requested_size(request) -> int:
    """A page image's ``?size=``, brought within bounds; the default if it is no number."""
    try:
        size = int(request.GET.get("size", DEFAULT_SIZE))
    except ValueError:
        size = DEFAULT_SIZE
    return min(max(size, MIN_SIZE), MAX_SIZE)


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
