"""Uploaded images kept in our database and served from our own origin.

An asset's address is its content hash (``/assets/<sha256>.png``): the same
bytes always have the same address and an address never changes its bytes,
so browsers and caches keep it for a year without asking again, and a new
logo is a new address that the theme then points at.
"""

from sqlalchemy import bindparam, select

from tracee.branding.images import StoredImage, process_upload
from tracee.branding.models import AssetLink, TenantAsset
from tracee.branding.service import update_theme
from tracee.tenancy.scope import bind_tenant, read_directory_row, rls_tenant_of

ASSET_PREFIX = "/assets/"
THEME_FIELDS = {"logo": "logo_url", "favicon": "favicon_url"}  # what each upload sets


def asset_path(image: StoredImage) -> str:
    return f"{ASSET_PREFIX}{image.sha256}.{image.extension}"


def store_asset(session, tenant_id: int, image: StoredImage) -> str:
    """Keep ``image`` for the tenant bound to ``session``; its public path."""
    digest = image.sha256
    if session.get(TenantAsset, (tenant_id, digest)) is None:
        session.add(TenantAsset(sha256=digest, content_type=image.content_type, data=image.data))
        session.flush()  # the link's foreign key needs the asset's row first
        session.add(AssetLink(sha256=digest, tenant_id=tenant_id))
        session.flush()
    return asset_path(image)


def upload_image(session, tenant_id: int, kind: str, data: bytes) -> dict:
    """Keep ``data`` as the tenant's ``kind`` ("logo", "favicon") and point its
    theme at it; ImageRefused or ThemeError, with nothing kept, if it is refused.
    Returns the theme as :func:`tracee.branding.service.update_theme` does."""
    path = store_asset(session, tenant_id, process_upload(data, kind))
    return update_theme(session, tenant_id, {THEME_FIELDS[kind]: path})


_links, _assets = AssetLink.__table__, TenantAsset.__table__
# Any one tenant holding the bytes will do: the hash names the content.
_LINK = (select(_links.c.tenant_id, rls_tenant_of(_links.c.tenant_id))
         .where(_links.c.sha256 == bindparam("sha256")).limit(1))
_ASSET = select(_assets.c.content_type, _assets.c.data).where(
    _assets.c.tenant_id == bindparam("tenant"), _assets.c.sha256 == bindparam("sha256"))


def find_asset(session, digest: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of the asset with this hash, on an unbound session."""
    link = read_directory_row(session, _LINK, {"sha256": digest})
    if link is None:
        return None
    bind_tenant(session, link.tenant_id)
    row = session.connection().execute(
        _ASSET, {"tenant": link.tenant_id, "sha256": digest}).first()
    return (row.content_type, row.data) if row is not None else None
