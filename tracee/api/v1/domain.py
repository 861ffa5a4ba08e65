"""/branding/domain: the tenant's custom domain, served once its TXT record is verified."""

import colander

from tracee.api.errors import api_error
from tracee.api.openapi import operation
from tracee.api.schemas import StrictString, json_body
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import DOMAIN_EXAMPLE, ref
from tracee.tenancy.domains import (
    NotVerified,
    challenge_name,
    remove_domain,
    request_domain,
    verify_domain,
)
from tracee.tenancy.models import Tenant
from tracee.tenancy.service import TenantError, TenantTaken

domain = api_service("domain", "/branding/domain")
verify = api_service("domain_verify", "/branding/domain/verify")


class DomainRequest(colander.MappingSchema):
    domain = colander.SchemaNode(
        StrictString(), validator=colander.Length(min=1, max=253),
        description="e.g. track.example.com; any case, a trailing dot is dropped",
    )


def domain_json(request, tenant: Tenant) -> dict:
    pending = tenant.pending_domain
    return {
        "domain": tenant.domain,
        "pending_domain": pending,
        "txt_record": None if pending is None else {
            "name": challenge_name(pending), "value": tenant.domain_token},
        "cname_target": request.registry["domains.cname_target"],
    }


def _refused(exc: TenantError):
    status = 409 if isinstance(exc, TenantTaken | NotVerified) else 400
    return api_error(status, str(exc), name=exc.field)


@domain.get()
@operation(200, ref("Domain"), "Get the custom domain", example=DOMAIN_EXAMPLE)
def read(request):
    """The verified domain (served), and the one waiting for its TXT record, with the
    record to publish and the CNAME target to point it at."""
    return domain_json(request, request.db.get(Tenant, request.context.tenant_id))


@domain.put(validators=(json_body(DomainRequest()),))
@operation(200, ref("Domain"), "Ask for a custom domain", example=DOMAIN_EXAMPLE,
           others={409: "the domain belongs to another tenant"},
           request_example={"domain": "track.bluevase.example"})
def ask(request):
    """Holds the domain with a new token: publish `txt_record`, point a CNAME at
    `cname_target`, then verify. The verified domain, if any, is served meanwhile."""
    try:
        tenant = request_domain(request.db, request.context.tenant_id,
                                request.validated["domain"], request.registry["platform_hosts"])
    except TenantError as exc:
        raise _refused(exc) from None
    return domain_json(request, tenant)


@domain.delete()
@operation(200, ref("Domain"), "Remove the custom domain")
def delete(request):
    """Stops serving the domain and forgets any pending one."""
    return domain_json(request, remove_domain(request.db, request.context.tenant_id))


@verify.post()
@operation(200, ref("Domain"), "Verify the custom domain", example=DOMAIN_EXAMPLE,
           others={409: "the TXT record is not there yet, or another tenant verified the "
                   "domain first"})
def check(request):
    """Looks `_tracee-challenge.<domain>` up; when it holds the token, the domain is
    served from now on and the pending one is cleared."""
    try:
        tenant = verify_domain(request.db, request.context.tenant_id,
                               request.registry["domains.resolvers"])
    except TenantError as exc:
        raise _refused(exc) from None
    return domain_json(request, tenant)


