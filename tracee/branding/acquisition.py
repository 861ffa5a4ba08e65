"""The effective theme of a page, found by walking up the resource chain (acquisition).

A client tenant without its own logo shows its agency's; an agency without
one shows the platform default; and so for every theme field. Each worker
keeps the tenants' own values and the resolved themes, keyed by the
tenants' ``branding_version``, which the page reads with its tenant chain:
a change anywhere is seen by every worker on its next page, and a page
whose chain has not changed costs no query for its theme.
"""

import json
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from markupsafe import Markup
from sqlalchemy import bindparam, func, select

from tracee.branding.models import PageTemplate, TenantTheme
from tracee.branding.theme import (
    COLOR_RE,
    FONTS,
    PLATFORM,
    WCAG_AA_TEXT,
    contrast,
    effective_values,
    on_color,
)
from tracee.tenancy.resources import TenantResource
from tracee.tenancy.scope import bound_tenant, visiting

PLATFORM_NAME = "Tracee"
# What the tenants table holds itself (the command line sets them); the rest is JSON.
TENANT_COLUMNS = ("brand_color", "logo_url")


def _color(value: str, default: str) -> str:
    """The strict check a colour passes on its way into a style sheet, whatever was stored."""
    return value if isinstance(value, str) and COLOR_RE.fullmatch(value) else default


@dataclass(frozen=True)
class Brand:
    """The effective theme as the pages use it: plain, validated values."""

    display_name: str
    values: dict = field(default_factory=lambda: dict(PLATFORM), compare=False)
    # step_names' answers: a resolved theme lives as long as its chain's versions
    # (ThemeCache), and holds one entry per page template and language asked for.
    _step_names: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        # The values as attributes of their own: pages read a dozen of them, and
        # each through __getattr__ was a call. Names the class defines keep theirs.
        own = vars(self)
        for name, value in self.values.items():
            if name.isidentifier() and not hasattr(type(self), name) and name not in own:
                own[name] = value

    def __getattr__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def color(self) -> str:
        return _color(self.values["brand_color"], PLATFORM["brand_color"])

    @property
    def background(self) -> str:
        return _color(self.values["background_color"], PLATFORM["background_color"])

    @property
    def ink(self) -> str:
        """The text colour, or a readable one if an agency's later change made it unreadable."""
        return on_color(self.background, _color(self.values["text_color"], PLATFORM["text_color"]))

    @property
    def text_color(self) -> str:
        """The brand colour where it is readable as text on the background, else the ink.

        Tenants may pick any brand colour; a pale one keeps the bars and
        borders but must not carry headings and links below WCAG AA contrast.
        """
        if contrast(self.color, self.background) >= WCAG_AA_TEXT:
            return self.color
        return self.ink

    @property
    def on_brand(self) -> str:
        return on_color(self.color, self.ink)

    def step_text(self, template: str | None, step: str) -> dict | None:
        for item in self.values.get("steps") or ():
            if item["template"] == template and item["step"] == step:
                return item
        return None

    def step_names(self, template: str | None, lang: str) -> dict[str, tuple]:
        """{step: (label, description)} the theme gives ``template``'s steps in
        ``lang`` (each its default text where ``lang`` has none, else None)."""
        key = (template, lang)
        found = self._step_names.get(key)
        if found is None:
            found = self._step_names[key] = {
                item["step"]: (_in_language(item, "label", lang),
                               _in_language(item, "description", lang))
                for item in reversed(self.values.get("steps") or ())
                if item["template"] == template}
        return found

    @cached_property
    def css(self) -> Markup:
        """The theme's CSS custom properties, worked out once per resolved theme.
        Markup: every part is a validated colour, a whole number or a font stack
        of ours, never tenant text."""
        radius = self.values.get("corner_radius")
        radius = radius if type(radius) is int and 0 <= radius <= 64 else PLATFORM["corner_radius"]
        font = FONTS.get(self.values.get("font"), FONTS["system"])
        accent = _color(self.values.get("accent_color"), self.color)
        declarations = [
            f"--brand: {self.color}", f"--brand-text: {self.text_color}",
            f"--on-brand: {self.on_brand}", f"--accent: {accent}",
            f"--radius: {radius}px", f"--font: {font}",
        ]
        if self.background != PLATFORM["background_color"] or self.ink != PLATFORM["text_color"]:
            # A tenant's own background carries the card and every text on it.
            declarations += [f"--bg: {self.background}", f"--card: {self.background}",
                             f"--ink: {self.ink}", f"--muted: {self.ink}"]
        return Markup("; ".join(declarations))  # noqa: S704 (validated above)


def _in_language(text: dict, key: str, lang: str) -> str | None:
    """The theme's text for the step in ``lang``, else its default text."""
    return (text.get(f"{key}s") or {}).get(lang) or text.get(key)


def _tenants_up(resource):
    """The tenants on the way from ``resource`` up to the platform, nearest first."""
    while resource is not None:
        if isinstance(resource, TenantResource):
            yield resource.tenant
        resource = resource.__parent__


_themes, _pages = TenantTheme.__table__, PageTemplate.__table__
_OWN_THEME = select(_themes.c.settings).where(_themes.c.tenant_id == bindparam("tenant"))
_newest = _pages.alias("newest")
# Each kind's newest version: the one in force (its source None: no template of its own).
_OWN_TEMPLATES = select(_pages.c.kind, _pages.c.version, _pages.c.source).where(
    _pages.c.tenant_id == bindparam("tenant"),
    _pages.c.version == select(func.max(_newest.c.version)).where(
        _newest.c.tenant_id == _pages.c.tenant_id, _newest.c.kind == _pages.c.kind,
    ).scalar_subquery(),
)


@contextmanager
def _as_tenant(session, tenant_id: int):
    """Read as ``tenant_id`` (row-level security shows its rows only to itself)."""
    if bound_tenant(session) == tenant_id:
        yield
    else:
        with visiting(session, tenant_id):
            yield


def read_own_settings(session, tenant_id: int) -> dict:
    """The tenant's own JSON theme values."""
    with _as_tenant(session, tenant_id):
        raw = session.connection().execute(_OWN_THEME, {"tenant": tenant_id}).scalar()
    return json.loads(raw) if raw else {}


def read_own_templates(session, tenant_id: int) -> dict:
    """{kind: (version, source)} of the tenant's page templates in force."""
    with _as_tenant(session, tenant_id):
        rows = session.connection().execute(_OWN_TEMPLATES, {"tenant": tenant_id}).all()
    return {kind: (version, source) for kind, version, source in rows}


@dataclass(frozen=True)
class OwnBranding:
    version: int
    settings: dict
    templates: dict


@dataclass(frozen=True)
class Presentation:
    """What a tenant chain's pages look like: the theme, and for each kind of
    page the template in force, as (owner tenant id, version, source)."""

    brand: Brand
    templates: dict


NO_BRANDING = OwnBranding(0, {}, {})


class ThemeCache:
    """Per worker: each tenant's own values and templates, and each chain's
    resolved presentation, keyed by the tenants' branding versions."""

    def __init__(self, max_entries: int = 5000):
        self.max_entries = max_entries
        self._own: dict[int, OwnBranding] = {}
        self._resolved: OrderedDict = OrderedDict()

    def own(self, session, tenant) -> OwnBranding:
        version = getattr(tenant, "branding_version", 0) or 0
        cached = self._own.get(tenant.id)
        if cached is None or cached.version != version:
            # Version 0: never themed through the API, so there is nothing to read.
            cached = NO_BRANDING if not version else OwnBranding(
                version, read_own_settings(session, tenant.id),
                read_own_templates(session, tenant.id))
            if len(self._own) >= self.max_entries:
                self._own.clear()
            self._own[tenant.id] = cached
        return cached

    def presentation(self, session, resource) -> Presentation:
        chain = list(_tenants_up(resource))
        key = tuple((t.id, getattr(t, "branding_version", 0), t.brand_color, t.logo_url, t.name)
                    for t in chain)
        found = self._resolved.get(key)
        if found is None:
            owns = [self.own(session, t) for t in chain]
            values = [{**own.settings, **{n: getattr(t, n) for n in TENANT_COLUMNS}}
                      for t, own in zip(chain, owns, strict=True)]
            templates = {}
            # Nearest first: a client's own template wins over its agency's; one
            # that went back to the default (source None) lets the agency's apply.
            for tenant, own in zip(chain, owns, strict=True):
                for kind, (version, source) in own.templates.items():
                    if source is not None and kind not in templates:
                        templates[kind] = (tenant.id, version, source)
            found = Presentation(resolve(chain, values), templates)
            self._resolved[key] = found
            if len(self._resolved) > self.max_entries:
                self._resolved.popitem(last=False)
        return found

    def brand(self, session, resource) -> Brand:
        return self.presentation(session, resource).brand


def resolve(chain, chain_values: list[dict]) -> Brand:
    return Brand(chain[0].name if chain else PLATFORM_NAME, effective_values(chain_values))


def branding_for(resource, request=None) -> Brand:
    """The effective theme of the nearest tenant above ``resource``.

    Without a request, only what the tenant rows carry (colour and logo) is used.
    """
    if request is not None:
        return request.registry["branding.themes"].brand(request.db, resource)
    chain = list(_tenants_up(resource))
    return resolve(chain, [{name: getattr(t, name) for name in TENANT_COLUMNS} for t in chain])


def includeme(config):
    from pyramid.settings import asbool

    config.registry["branding.themes"] = ThemeCache()
    config.registry["branding.vendor_credit"] = asbool(
        config.get_settings()["tracee.branding.vendor_credit"])
