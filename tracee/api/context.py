"""The API's route factories: the key names the tenant, then the limiter decides.

Every API route gets its context from here, so no view runs for a request
without a valid key, a bound tenant and a rate-limit verdict.
"""

from dataclasses import dataclass

from tracee.api.errors import api_error
from tracee.api.keys import ActiveKey, active_key, touch
from tracee.tenancy.scope import bind_tenant
from tracee.tracking.workflow import Actor

KEY_HEADER = "X-API-Key"


@dataclass
class ApiContext:
    tenant_id: int
    key: ActiveKey

    @property
    def actor(self) -> Actor:
        return Actor(f"key:{self.key.id}")


def _unauthorized(description):
    return api_error(
        401, description, location="header", name=KEY_HEADER,
        headers={"WWW-Authenticate": 'APIKey header="X-API-Key"'},
    )


def _authenticate(request, secret):
    if not secret:
        raise _unauthorized("an API key is required in the X-API-Key header")
    key = active_key(request.db, secret.strip(), request.registry["api.key_cache"])
    if key is None:
        raise _unauthorized("the API key is not valid or has been revoked")
    verdict = request.registry["ratelimiter"].hit("key", str(key.id), key.rate_limit)
    request.rate_limit = verdict
    if not verdict.allowed:
        raise api_error(
            429, f"rate limit of {verdict.limit} requests exceeded; retry later",
            location="header", name=KEY_HEADER,
            headers={"Retry-After": str(verdict.retry_after)},
        )
    bind_tenant(request.db, key.tenant_id)
    touch(request.db, key)
    return ApiContext(key.tenant_id, key)


def api_context(request):
    return _authenticate(request, request.headers.get(KEY_HEADER))


def api_context_allowing_query_key(request):
    """For images embedded with ``<img src=...?api_key=...>``, where no header can be set."""
    return _authenticate(request, request.headers.get(KEY_HEADER) or request.GET.get("api_key"))
