"""The API's route factories: the key names the tenant, then the limiter decides.

Every API route gets its context from here, so no view runs for a request
without a valid key, a bound tenant and a rate-limit verdict.
"""

from dataclasses import dataclass

from cornice.util import current_service

from tracee.api.errors import api_error
from tracee.api.keys import ActiveKey, cached_key, is_well_formed, lookup_key, touch
from tracee.api.qr_front import COUNTED
from tracee.ratelimit import Verdict
from tracee.tenancy.clients import client_tenant
from tracee.tenancy.scope import bind_tenant
from tracee.tracking.workflow import Actor

KEY_HEADER = "X-API-Key"
# An agency's key acts for one of its clients when this names the client's slug.
TENANT_HEADER = "Tracee-Tenant"
# Read from the WSGI environ by the name WebOb's request.headers would look
# up: every API request reads both, and request.headers.get costs four calls.
_KEY_ENVIRON = "HTTP_" + KEY_HEADER.upper().replace("-", "_")
_TENANT_ENVIRON = "HTTP_" + TENANT_HEADER.upper().replace("-", "_")
UNKNOWN_KEYS = "unknown-key"  # the limiter's budget of unknown keys per client address


@dataclass
class ApiContext:
    tenant_id: int  # the tenant the request is for: the key's, or the client it names
    key: ActiveKey

    @property
    def actor(self) -> Actor:
        return Actor(f"key:{self.key.id}")


def _unauthorized(description):
    return api_error(
        401, description, location="header", name=KEY_HEADER,
        headers={"WWW-Authenticate": 'APIKey header="X-API-Key"'},
    )


def _too_many_unknown_keys(request, until: float):
    # Figures for the X-RateLimit-* headers, like any other 429 of the API.
    limit = request.registry["ratelimiter"].defaults[UNKNOWN_KEYS].amount
    request.rate_limit = verdict = Verdict(False, limit, 0, until)
    return api_error(
        429, "too many requests with unknown or revoked API keys from your address; retry later",
        location="header", name=KEY_HEADER, headers={"Retry-After": str(verdict.retry_after)},
    )


def _unknown_key(request, limiter):
    """The error for a key that is not (or no longer) active, counted per address."""
    missed = limiter.hit_remembering_refusal(UNKNOWN_KEYS, request.client_address)
    if missed is not None and not missed.allowed:
        return _too_many_unknown_keys(request, missed.reset_at)
    return _unauthorized("the API key is not valid or has been revoked")


def _authenticate(request, secret):
    if not secret:
        raise _unauthorized("an API key is required in the X-API-Key header")
    secret = secret.strip()
    limiter = request.registry["ratelimiter"]
    # An address over its budget of unknown keys is refused before the database is asked;
    # with no refusal remembered (the usual case) this costs one attribute read.
    if limiter.remembers_refusals:
        until = limiter.refused_until(UNKNOWN_KEYS, request.client_address)
        if until is not None:
            raise _too_many_unknown_keys(request, until)
    cache = request.registry["api.key_cache"]
    key_hash, key = cached_key(secret, cache)
    remembered = key is not None
    if key is None:
        # A mistyped or made-up key fails its checksum: refused without a lookup.
        # Only here: a remembered key passed it when it was looked up.
        if not is_well_formed(secret):
            raise _unauthorized("the API key is not valid or has been revoked")
        key = lookup_key(request.reads, key_hash, cache)
        if key is None:
            raise _unknown_key(request, limiter)
    # Counted already if the keyed QR front passed it on (tracee.api.qr_front).
    counted = request.environ.pop(COUNTED, None)
    if counted is not None and counted[0] == key.id:
        verdict = counted[1]
    else:
        verdict = limiter.hit("key", str(key.id), key.rate_limit)
    # The count read the cache epoch too: if it moved (a key was revoked), or
    # Redis did not answer, a remembered key is looked up again before use.
    if not cache.confirm(verdict and verdict.epoch) and remembered:
        rate_limit = key.rate_limit
        key = lookup_key(request.reads, key_hash, cache)
        if key is None:
            raise _unknown_key(request, limiter)
        if key.rate_limit != rate_limit:
            verdict = limiter.hit("key", str(key.id), key.rate_limit)
    request.rate_limit = verdict
    if verdict is not None and not verdict.allowed:
        raise api_error(
            429, f"rate limit of {verdict.limit} requests exceeded; retry later",
            location="header", name=KEY_HEADER,
            headers={"Retry-After": str(verdict.retry_after)},
        )
    tenant_id = key.tenant_id
    named = request.environ.get(_TENANT_ENVIRON)
    if named is not None and _serves(request):
        # Limits stay the key's (counted above); data and idempotency are the client's.
        tenant_id = client_tenant(request.reads, key.tenant_id, named.strip())
        if tenant_id is None:
            raise api_error(
                404, "no tenant by that slug that this key may act for",
                location="header", name=TENANT_HEADER,
            )
    # request.reads: most keyed requests only read, and need no ORM Session
    # (tracee.tenancy.scope.TenantConnection); a view that writes gets one
    # from request.db, in the same transaction and bound to the same tenant.
    touch(request.reads, key)
    bind_tenant(request.reads, tenant_id)
    return ApiContext(tenant_id, key)


def _serves(request) -> bool:
    """Whether the route has a view for the method: for any other, the answer is
    a 405 whatever the request is for, so no client is looked up."""
    service = current_service(request)
    return service is None or request.method in service.defined_methods


def api_context(request):
    return _authenticate(request, request.environ.get(_KEY_ENVIRON))


def api_context_allowing_query_key(request):
    """For images embedded with ``<img src=...?api_key=...>``, where no header can be set."""
    return _authenticate(request, request.environ.get(_KEY_ENVIRON) or request.GET.get("api_key"))
