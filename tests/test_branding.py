"""Branding acquisition up the resource chain, and readable brand text."""

from types import SimpleNamespace

from tracee.branding.acquisition import Brand, branding_for
from tracee.branding.theme import PLATFORM
from tracee.tenancy.resources import TenantResource

INK, PLATFORM_COLOR = PLATFORM["text_color"], PLATFORM["brand_color"]


def Branding(name, color, logo_url):  # noqa: N802  (reads like the value it builds)
    return Brand(name, {**PLATFORM, "brand_color": color, "logo_url": logo_url})


def _tenant(tid, name, color=None, logo_url=None):
    return SimpleNamespace(
        id=tid, slug=f"t{tid}", name=name, brand_color=color, logo_url=logo_url
    )


def _chain(*tenants):
    """Resources for tenants listed from the top (agency) down to the client."""
    parent = SimpleNamespace(__parent__=None)  # the platform root
    for tenant in tenants:
        parent = TenantResource(tenant, parent)
    return SimpleNamespace(__parent__=parent)  # the tracker below the last tenant


def test_client_without_its_own_branding_acquires_the_agency_s():
    agency = _tenant(1, "Agency", color="#112233", logo_url="https://a.test/logo.png")
    client = _tenant(2, "Client Shop")
    brand = branding_for(_chain(agency, client))
    assert (brand.display_name, brand.color, brand.logo_url) == (
        "Client Shop", "#112233", "https://a.test/logo.png")


def test_own_branding_wins_over_the_agency_s_attribute_by_attribute():
    agency = _tenant(1, "Agency", color="#112233", logo_url="https://a.test/logo.png")
    client = _tenant(2, "Client", color="#445566")
    brand = branding_for(_chain(agency, client))
    assert (brand.color, brand.logo_url) == ("#445566", "https://a.test/logo.png")


def test_nobody_branded_falls_back_to_the_platform():
    brand = branding_for(_chain(_tenant(1, "Plain")))
    assert (brand.display_name, brand.color, brand.logo_url) == ("Plain", PLATFORM_COLOR, None)


def test_readable_brand_colours_carry_text_and_pale_ones_do_not():
    assert Branding("x", "#1d4ed8", None).text_color == "#1d4ed8"
    assert Branding("x", "#ffd400", None).text_color == INK
    assert Branding("x", "#ffffff", None).text_color == INK
