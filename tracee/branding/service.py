"""Reading and changing a tenant's theme; shared by the API and, later, the dashboard."""

import json
import secrets

from sqlalchemy import select, update

from tracee.branding.acquisition import TENANT_COLUMNS, read_own_settings
from tracee.branding.models import TenantTheme
from tracee.branding.theme import FIELDS, check_contrast, check_value, effective_values
from tracee.db import utcnow
from tracee.tenancy.models import Tenant

_tenants = Tenant.__table__


def tenant_chain(session, tenant_id: int) -> list[Tenant]:
    """The tenant and its agencies, nearest first."""
    chain = [session.get(Tenant, tenant_id)]
    while chain[-1].parent_id is not None:
        chain.append(session.get(Tenant, chain[-1].parent_id))
    return chain


def own_values(session, tenant: Tenant) -> dict:
    """Every field as the tenant set it itself, None where it inherits."""
    settings = read_own_settings(session, tenant.id)
    own = {f.name: settings.get(f.name) for f in FIELDS}
    own.update({name: getattr(tenant, name) for name in TENANT_COLUMNS})
    return own


def bump_branding_version(session, tenant_id: int) -> None:
    """Tell every worker's caches that this tenant's theme or templates changed.

    A random stamp rather than a counter: a tenant id used again (deleted,
    then reused by SQLite) starts no count that a worker has cached already.
    """
    session.execute(update(_tenants).where(_tenants.c.id == tenant_id)
                    .values(branding_version=secrets.randbelow(2**31 - 2) + 1))


def theme_of(session, tenant_id: int) -> dict:
    """``{"own": ..., "effective": ...}`` for the tenant bound to ``session``."""
    chain = tenant_chain(session, tenant_id)
    values = [own_values(session, t) for t in chain]
    return {"own": values[0], "effective": effective_values(values)}


def update_theme(session, tenant_id: int, changes: dict) -> dict:
    """Apply ``changes`` (a field absent is unchanged, None clears it so it is
    inherited again), refusing any value that is not of its kind (ThemeError)
    and any result whose text falls below WCAG AA. Returns :func:`theme_of`."""
    chain = tenant_chain(session, tenant_id)
    # Read before anything changes: the agencies' values are read as them.
    values = [own_values(session, t) for t in chain]
    own = values[0]
    for name, value in changes.items():
        own[name] = None if value is None else check_value(name, value)
    check_contrast(effective_values(values))
    tenant = chain[0]
    for name in TENANT_COLUMNS:
        setattr(tenant, name, own[name])
    stored = {name: value for name, value in own.items()
              if value is not None and name not in TENANT_COLUMNS}
    theme = session.scalar(select(TenantTheme))
    if theme is None:
        theme = TenantTheme(settings="{}")
        session.add(theme)
    theme.settings = json.dumps(stored, separators=(",", ":"))
    theme.updated_at = utcnow()
    session.flush()
    bump_branding_version(session, tenant_id)
    return {"own": own, "effective": effective_values(values)}
