"""Turn ini settings plus environment overrides into the values the app uses.

The ini files carry defaults; the environment wins, so the same
``production.ini`` serves every deployment (twelve-factor style).
"""

import os

# environment variable -> ini setting it overrides
ENV_OVERRIDES = {
    "DATABASE_URL": "sqlalchemy.url",
    "REDIS_URL": "tracee.ratelimit.storage",
    "TRACEE_PUBLIC_URL": "tracee.public_url",
    "TRACEE_WEBHOOK_KEYS": "tracee.webhooks.secret_keys",
    "SMTP_URL": "tracee.mail.smtp_url",
    "TRACEE_SECRET": "tracee.secret",
}

DEFAULTS = {
    "tracee.public_url": "http://localhost:6543",
    "tracee.ratelimit.storage": "memory://",
    "tracee.ratelimit.api": "100/minute",
    "tracee.ratelimit.public": "600/minute",
    "tracee.ratelimit.unknown_keys": "20/minute",  # per address, unknown or revoked keys
    "tracee.proxy.trusted": "",  # proxies whose X-Forwarded-For is believed: none
    "tracee.max_body_bytes": "65536",
    "tracee.api.key_cache_seconds": "0",  # off unless configured (production.ini)
    "tracee.idempotency.keep_hours": "24",
    "tracee.branding.vendor_credit": "false",  # "powered by Tracee" on tenants' pages
    "tracee.domains.resolvers": "",  # "host[:port] ..." for TXT lookups; empty: the system's
    "tracee.domains.cname_target": "",  # empty: tracee.public_url's host
}


def reader(settings: dict, prefix: str):
    """``get(name, default)`` of the ``prefix.name`` settings: the default when
    a setting is absent or blank."""

    def get(name: str, default):
        value = settings.get(f"{prefix}.{name}")
        return default if value is None or str(value).strip() == "" else value

    return get


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs hosting providers hand out and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def resolve(settings: dict, environ: dict | None = None) -> dict:
    environ = os.environ if environ is None else environ
    resolved = {**DEFAULTS, **settings}
    missing = [v for v in resolved.get("tracee.required_env", "").split() if not environ.get(v)]
    if missing:
        raise ValueError(f"Set the environment variable(s): {', '.join(missing)}")
    for variable, key in ENV_OVERRIDES.items():
        if environ.get(variable):
            resolved[key] = environ[variable]
    if "sqlalchemy.url" not in resolved:
        raise ValueError("No database configured: set sqlalchemy.url or DATABASE_URL")
    resolved["sqlalchemy.url"] = normalize_database_url(resolved["sqlalchemy.url"])
    resolved["tracee.public_url"] = resolved["tracee.public_url"].rstrip("/")
    return resolved
