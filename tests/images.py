"""Image files made on the spot for upload tests."""

from io import BytesIO

from PIL import Image, PngImagePlugin


def png_bytes(text: str = "logo", size=(40, 20), color=(15, 118, 110, 255), **save) -> bytes:
    """A small PNG carrying a text chunk (metadata an upload must not keep)."""
    image = Image.new("RGBA", size, color)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"secret-{text}")
    out = BytesIO()
    image.save(out, format="PNG", pnginfo=info, **save)
    return out.getvalue()


def image_bytes(fmt: str, size=(64, 32), mode="RGB", **save) -> bytes:
    out = BytesIO()
    Image.new(mode, size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()
