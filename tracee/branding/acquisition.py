"""Branding found by walking up the resource chain (acquisition).

A client tenant without its own logo shows its agency's; an agency
without one shows the platform default.
"""

from dataclasses import dataclass

from tracee.tenancy.resources import TenantResource

PLATFORM_NAME = "Tracee"
PLATFORM_COLOR = "#4f46e5"
INK = "#1f2933"
# Relative luminance of the page background (--bg in tracee.css), where branded
# text has less contrast than on the white card.
PAGE_BACKGROUND_LUMINANCE = 0.9198
WCAG_AA_TEXT = 4.5


def _luminance(hex_color: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    total = 0.0
    for weight, start in ((0.2126, 1), (0.7152, 3), (0.0722, 5)):
        c = int(hex_color[start : start + 2], 16) / 255
        total += weight * (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return total


@dataclass(frozen=True)
class Branding:
    display_name: str
    color: str
    logo_url: str | None

    @property
    def text_color(self) -> str:
        """The brand colour where it is readable as text, else ink.

        Tenants may pick any colour; a pale one keeps the bars and borders
        but must not carry headings and links below WCAG AA contrast.
        """
        contrast = (PAGE_BACKGROUND_LUMINANCE + 0.05) / (_luminance(self.color) + 0.05)
        return self.color if contrast >= WCAG_AA_TEXT else INK


def _tenants_up(resource):
    """The tenants on the way from ``resource`` up to the platform, nearest first."""
    while resource is not None:
        if isinstance(resource, TenantResource):
            yield resource.tenant
        resource = resource.__parent__


def _acquire(resource, attribute):
    return next((v for t in _tenants_up(resource) if (v := getattr(t, attribute))), None)


def branding_for(resource) -> Branding:
    """Branding of the nearest tenant above ``resource``, with gaps filled from above."""
    own = next(_tenants_up(resource), None)
    return Branding(
        display_name=own.name if own is not None else PLATFORM_NAME,
        color=_acquire(resource, "brand_color") or PLATFORM_COLOR,
        logo_url=_acquire(resource, "logo_url"),
    )
