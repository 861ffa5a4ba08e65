"""Logos and favicons uploaded as files: what is accepted, and what is kept.

An upload is judged by its bytes, never by its name or declared type. Pillow
opens it only as PNG, JPEG, WebP or GIF (SVG can carry script, and other
formats widen what a parser must survive); its pixel count is checked from
the header before anything is decoded, so a small file that inflates to
gigabytes is refused cheaply. What is kept is a fresh encoding of the pixels
alone: no EXIF, ICC profile, text chunk or comment of the original survives,
and a malformed trailer or polyglot payload is not copied along.
"""

import warnings
from contextlib import suppress
from dataclasses import dataclass
from hashlib import sha256
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 512 * 1024
MAX_STORED_BYTES = 512 * 1024
# Checked from the header, before decoding: 25 megapixels is a 100 MB RGBA
# buffer at most, and far more than any logo needs.
MAX_SOURCE_PIXELS = 25_000_000
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
# The largest box each kind is scaled down into (aspect ratio kept).
MAX_SIZE = {"logo": (1024, 512), "favicon": (256, 256)}
ACCEPTED_TEXT = "a PNG, JPEG, WebP or GIF image"
TOO_MANY_PIXELS = (f"The image has too many pixels: at most {MAX_SOURCE_PIXELS // 1_000_000} "
                   "million are accepted.")


class ImageRefused(ValueError):
    """An upload that is not kept; the message says why, for the person uploading."""


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return sha256(self.data).hexdigest()


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head


def _open(data: bytes) -> Image.Image:
    """The image, checked for integrity and size, with its pixels loaded."""
    with warnings.catch_warnings():
        # Pillow warns (rather than refuses) between its limit and twice it.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(BytesIO(data), formats=ACCEPTED_FORMATS)
            width, height = probe.size
            if width * height > MAX_SOURCE_PIXELS:
                raise ImageRefused(TOO_MANY_PIXELS)
            probe.verify()  # the whole file's structure and checksums, without decoding
            image = Image.open(BytesIO(data), formats=ACCEPTED_FORMATS)
            image.seek(0)  # an animated GIF keeps its first frame
            image.load()
        except ImageRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRefused(TOO_MANY_PIXELS) from None
        except UnidentifiedImageError:
            raise ImageRefused(f"This file is not {ACCEPTED_TEXT}.") from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise ImageRefused(f"This file is damaged or not {ACCEPTED_TEXT}.") from None
    return image


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = BytesIO()
    if fmt == "PNG":
        image.save(out, format="PNG", optimize=True)
    else:
        image.save(out, format="WEBP", quality=85, method=4)
    return out.getvalue()


def process_upload(data: bytes, kind: str) -> StoredImage:
    """``data`` re-encoded for keeping as a ``kind`` ("logo" or "favicon"), or ImageRefused."""
    if not data:
        raise ImageRefused("Choose an image file to upload.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRefused(f"The file is larger than {MAX_UPLOAD_BYTES // 1024} KB.")
    if _looks_like_svg(data):
        raise ImageRefused(f"SVG images are not accepted: upload {ACCEPTED_TEXT}.")
    image = _open(data)
    # Upright, as the photo was taken; an unreadable orientation tag keeps the pixels as they are.
    with suppress(OSError, ValueError, SyntaxError):
        image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    clean = image.convert("RGBA" if has_alpha else "RGB")
    clean.thumbnail(MAX_SIZE[kind], Image.Resampling.LANCZOS)
    clean.info = {}  # nothing of the original's metadata is written back
    # PNG first: every browser shows it as a favicon, and logos are mostly flat
    # colour; a photograph that PNG makes too heavy goes to WebP.
    stored, fmt = _encode(clean, "PNG"), "PNG"
    if len(stored) > MAX_STORED_BYTES and kind == "logo":
        stored, fmt = _encode(clean, "WEBP"), "WEBP"
    if len(stored) > MAX_STORED_BYTES:
        raise ImageRefused("The image is too detailed to keep under "
                           f"{MAX_STORED_BYTES // 1024} KB; upload a simpler or smaller one.")
    extension = fmt.lower()
    return StoredImage(stored, f"image/{extension}", extension, *clean.size)
