"""Theme values: what each field may hold, and the rules that keep pages readable.

Every value a tenant sets is checked here by its kind before it is stored,
and colours are checked again on the way into a style sheet, so nothing a
tenant typed reaches CSS unvalidated; HTML gets them through Jinja2's
autoescaping. Fonts are chosen from system font stacks (no font is fetched
from anywhere), by name: the stack itself is never tenant text.
"""

import re
from dataclasses import dataclass

from tracee.i18n import LANGUAGES, time_zones
from tracee.text import InvalidName, clean_name

COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}")
PHONE_RE = re.compile(r"\+?[0-9][0-9 ()./-]{2,39}")
# ASCII only (an international host name in its xn-- form): what the page prints
# is what the browser follows, and no look-alike character hides in it.
URL_RE = re.compile(r"(https?)://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][!-~]*)?")
# An image uploaded to Tracee, served from our own origin by its content hash
# (tracee.branding.assets): the one address an image field takes without https.
ASSET_PATH_RE = re.compile(r"/assets/[0-9a-f]{64}\.(?:png|webp)")
MAX_URL = 2000
MAX_RADIUS = 24
MAX_STEP_LABELS = 200
WCAG_AA_TEXT = 4.5
WHITE = "#ffffff"

FONTS = {
    "system": 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    "humanist": '"Seravek", "Gill Sans Nova", Ubuntu, Calibri, "DejaVu Sans", source-sans-pro, '
                "sans-serif",
    "geometric": 'Avenir, Montserrat, Corbel, "URW Gothic", source-sans-pro, sans-serif',
    "serif": 'Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif',
    "rounded": 'ui-rounded, "Hiragino Maru Gothic ProN", Quicksand, Comfortaa, Manjari, '
               '"Arial Rounded MT", Calibri, source-sans-pro, sans-serif',
    "monospace": 'ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, '
                 '"DejaVu Sans Mono", monospace',
}


class ThemeError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # color, font, radius, image, https_url, url, text, email, phone, steps,
    #             language, zone
    max_length: int = 0
    description: str = ""
    label: str = ""  # what the dashboard's form calls it


FIELDS = (
    Field("brand_color", "color", description="bars, borders and, where readable, headings",
          label="Brand colour"),
    Field("accent_color", "color", description="the current step's marker", label="Accent colour"),
    Field("background_color", "color", description="the page and card background",
          label="Background colour"),
    Field("text_color", "color", description="body text; at least 4.5:1 on the background",
          label="Text colour"),
    Field("font", "font", description="one of the system font stacks: " + ", ".join(FONTS),
          label="Font"),
    Field("corner_radius", "radius", description=f"0 to {MAX_RADIUS} pixels",
          label="Corner radius"),
    Field("logo_url", "image", MAX_URL, "an https:// URL, or an image uploaded to Tracee",
          label="Logo"),
    Field("favicon_url", "image", MAX_URL, "an https:// URL, or an image uploaded to Tracee",
          label="Favicon"),
    Field("back_link_label", "text", 60, "the shop's name in a 'Back to <label>' link",
          label="Shop name in the back link"),
    Field("back_link_url", "https_url", MAX_URL, label="Back link address"),
    Field("support_email", "email", 254, label="Support email"),
    Field("support_phone", "phone", 40, label="Support phone"),
    Field("support_url", "url", MAX_URL, label="Help centre address"),
    Field("footer_text", "text", 500, label="Footer text"),
    Field("steps", "steps", description="customer-facing label and description per "
          "template step, each optionally per language (labels, descriptions: "
          "{\"de\": \"...\"}); the whole list is replaced", label="Step labels"),
    Field("language", "language", description="the one language of the customer's pages, "
          "whatever the browser asks for (?lang= still wins); one of " + ", ".join(LANGUAGES),
          label="Language of the pages"),
    Field("default_language", "language", description="the pages' language when the "
          "browser asks for none of " + ", ".join(LANGUAGES), label="Default language"),
    Field("time_zone", "zone", description="the zone the pages' times are written in "
          "before the browser shows its own: an IANA name such as Europe/Berlin",
          label="Time zone"),
)
BY_NAME = {f.name: f for f in FIELDS}
STEP_TEXT = {"label": 100, "description": 500}
# A step's text per language: "labels": {"de": "..."}, "descriptions": {...}.
STEP_TRANSLATIONS = {f"{key}s": length for key, length in STEP_TEXT.items()}

PLATFORM = {
    "brand_color": "#4f46e5",
    "accent_color": None,  # the brand colour
    "background_color": "#f4f6f9",
    "text_color": "#1f2933",
    "font": "system",
    "corner_radius": 12,
    **{f.name: None for f in FIELDS
       if f.kind in ("image", "https_url", "url", "text", "email", "phone")},
    "steps": [],
    "language": None,  # none fixed: the browser's choice
    "default_language": "en",
    "time_zone": "UTC",
}


def _text(field: str, value: str, max_length: int) -> str:
    try:
        value = clean_name(value)
    except InvalidName as exc:
        raise ThemeError(field, f"{field} {exc}") from None
    if len(value) > max_length:
        raise ThemeError(field, f"{field} must be at most {max_length} characters")
    return value


def _url(field: str, value: str, schemes: tuple[str, ...]) -> str:
    match = URL_RE.fullmatch(value)
    if match is None or match.group(1) not in schemes or len(value) > MAX_URL:
        raise ThemeError(field, f"{field} must be an {' or '.join(s + '://' for s in schemes)} "
                         f"URL of at most {MAX_URL} characters")
    return value


def _step_label(index: int, item) -> dict:
    field = f"steps.{index}"
    if not isinstance(item, dict) or not isinstance(item.get("template"), str) \
            or not isinstance(item.get("step"), str):
        raise ThemeError(field, f"{field} needs a template slug and a step name")
    cleaned = {"template": _text(f"{field}.template", item["template"], 63),
               "step": _text(f"{field}.step", item["step"], 200)}
    for key, max_length in STEP_TEXT.items():
        if item.get(key) is not None:
            if not isinstance(item[key], str):
                raise ThemeError(f"{field}.{key}", f"{field}.{key} must be a string")
            cleaned[key] = _text(f"{field}.{key}", item[key], max_length)
        else:
            cleaned[key] = None
    for key, max_length in STEP_TRANSLATIONS.items():
        if item.get(key) is not None:  # kept out of the step when not given at all
            cleaned[key] = _translations(f"{field}.{key}", item[key], max_length)
    return cleaned


def _translations(field: str, value, max_length: int) -> dict:
    if not isinstance(value, dict) or not all(lang in LANGUAGES for lang in value):
        raise ThemeError(field, f"{field} must map languages ({', '.join(LANGUAGES)}) "
                         "to text")
    cleaned = {}
    for lang, text in value.items():
        if not isinstance(text, str):
            raise ThemeError(f"{field}.{lang}", f"{field}.{lang} must be a string")
        cleaned[lang] = _text(f"{field}.{lang}", text, max_length)
    return cleaned


def check_value(name: str, value):
    """``value`` as stored for field ``name``; ThemeError naming the field if it is not one."""
    spec = BY_NAME[name]
    kind = spec.kind
    if kind == "color":
        if not isinstance(value, str) or not COLOR_RE.fullmatch(value):
            raise ThemeError(name, f"{name} must look like #1a2b3c")
        return value.lower()
    if kind == "font":
        if value not in FONTS:
            raise ThemeError(name, f"font must be one of: {', '.join(FONTS)}")
        return value
    if kind == "radius":
        if type(value) is not int or not 0 <= value <= MAX_RADIUS:
            raise ThemeError(name, f"corner_radius must be a whole number from 0 to {MAX_RADIUS}")
        return value
    if kind == "steps":
        if not isinstance(value, list) or len(value) > MAX_STEP_LABELS:
            raise ThemeError(name, f"steps must be a list of at most {MAX_STEP_LABELS}")
        return [_step_label(i, item) for i, item in enumerate(value)]
    if not isinstance(value, str):
        raise ThemeError(name, f"{name} must be a string")
    if kind == "language":
        if value not in LANGUAGES:
            raise ThemeError(name, f"{name} must be one of: {', '.join(LANGUAGES)}")
        return value
    if kind == "zone":
        if value not in time_zones():
            raise ThemeError(name, f"{name} must be an IANA time zone such as Europe/Berlin")
        return value
    if kind == "image" and ASSET_PATH_RE.fullmatch(value):
        return value
    if kind in ("https_url", "image"):
        return _url(name, value, ("https",))
    if kind == "url":
        return _url(name, value, ("https", "http"))
    if kind == "email":
        if len(value) > spec.max_length or not EMAIL_RE.fullmatch(value):
            raise ThemeError(name, "support_email must be an e-mail address")
        return value
    if kind == "phone":
        if not PHONE_RE.fullmatch(value):
            raise ThemeError(name, "support_phone must be digits, spaces and + ( ) . - "
                             "(3 to 40 characters)")
        return value
    return _text(name, value, spec.max_length)


# --- contrast ---------------------------------------------------------------------


def luminance(hex_color: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    total = 0.0
    for weight, start in ((0.2126, 1), (0.7152, 3), (0.0722, 5)):
        c = int(hex_color[start : start + 2], 16) / 255
        total += weight * (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return total


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def on_color(background: str, preferred: str) -> str:
    """``preferred`` where it is readable on ``background``, else white or the platform's ink."""
    if contrast(preferred, background) >= WCAG_AA_TEXT:
        return preferred
    return max((WHITE, PLATFORM["text_color"]), key=lambda c: contrast(c, background))


def check_contrast(effective: dict) -> None:
    """Refuse a theme whose text would fall below WCAG AA (4.5:1)."""
    text, background = effective["text_color"], effective["background_color"]
    ratio = contrast(text, background)
    if ratio < WCAG_AA_TEXT:
        raise ThemeError("text_color", f"text_color {text} on background_color {background} has "
                         f"a contrast of {ratio:.2f}:1; WCAG AA needs at least 4.5:1")
    brand = effective["brand_color"]
    on_brand = on_color(brand, text)
    if contrast(on_brand, brand) < WCAG_AA_TEXT:
        raise ThemeError("brand_color", f"no text colour reaches 4.5:1 on brand_color {brand}")


# --- the effective theme ------------------------------------------------------------


def effective_values(chain_values: list[dict]) -> dict:
    """Each field's value from the nearest tenant that set it (``chain_values``
    nearest first), else the platform's; step labels merge step by step."""
    effective = {}
    for name, default in PLATFORM.items():
        if name == "steps":
            continue
        effective[name] = next(
            (values[name] for values in chain_values if values.get(name) is not None), default)
    merged = {}
    for values in reversed(chain_values):
        for item in values.get("steps") or ():
            merged[(item["template"], item["step"])] = item
    effective["steps"] = list(merged.values())
    return effective
