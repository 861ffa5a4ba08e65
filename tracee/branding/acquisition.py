"""Branding found by walking up the resource chain (acquisition).

A client tenant without its own logo shows its agency's; an agency
without one shows the platform default.
"""

from dataclasses import dataclass

from tracee.tenancy.resources import TenantResource

PLATFORM_NAME = "Tracee"
PLATFORM_COLOR = "#4f46e5"


@dataclass(frozen=True)
class Branding:
    display_name: str
    color: str
    logo_url: str | None


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
