"""/clients/: an agency's client tenants.

Creating one is ``tracee tenant create --parent`` by API, under the same
rules (tracee.tenancy.service). To act for a client, the agency's key sends
``Tracee-Tenant: <client slug>`` on any request (tracee.api.context).
"""

import colander

from tracee.api.errors import api_error
from tracee.api.openapi import operation
from tracee.api.schemas import SLUG_RE, StrictString, json_body, slug_node, text_node
from tracee.api.v1.representation import iso
from tracee.api.v1.services import api_service
from tracee.api.v1.shapes import CLIENT_EXAMPLE, ref
from tracee.tenancy.clients import create_client, list_clients
from tracee.tenancy.models import Tenant
from tracee.tenancy.service import DOMAIN_RE, TenantError, TenantTaken

clients = api_service("clients", "/clients")
client = api_service("client", "/clients/{client}")


def _host_name(node, value):
    if not DOMAIN_RE.fullmatch(value):
        raise colander.Invalid(node, "must be a lower-case host name such as track.example.com")


_host_name.json_schema = {"pattern": DOMAIN_RE.pattern, "maxLength": 253}


class ClientCreate(colander.MappingSchema):
    slug = slug_node()
    name = text_node(200)
    domain = colander.SchemaNode(
        StrictString(), missing=None, validator=_host_name,
        description="a custom domain for the client's pages, served once verified "
        "(GET /branding/domain with Tracee-Tenant shows the TXT record)",
    )


def client_json(tenant: Tenant, open_trackers: int = 0, last_activity=None) -> dict:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "domain": tenant.domain,
        "pending_domain": tenant.pending_domain,
        "created_at": iso(tenant.created_at),
        "open_trackers": open_trackers,
        "last_activity_at": iso(last_activity),
    }


@clients.get()
@operation(200, {"type": "array", "items": ref("Client")}, "List clients",
           example=[CLIENT_EXAMPLE])
def list_all(request):
    """The tenant's direct clients, oldest first, with their open (not completed) trackers
    and the time of their latest tracker change."""
    return [client_json(*listed) for listed in list_clients(request.db, request.context.tenant_id)]


@clients.post(validators=(json_body(ClientCreate()),))
@operation(201, ref("Client"), "Create a client", headers=("Location",),
           others={409: "the slug or the domain is taken"},
           request_example={"slug": "blue-vase", "name": "Blue Vase Ceramics"})
def create(request):
    """A client tenant below this one; its data is reached with `Tracee-Tenant: <slug>`.
    Agencies nest at most three levels deep."""
    data = request.validated
    agency = request.db.get(Tenant, request.context.tenant_id)
    try:
        # A domain given is served once verified (/branding/domain).
        tenant = create_client(request.db, agency, data["slug"], data["name"], data["domain"],
                               platform_hosts=request.registry["platform_hosts"])
    except TenantTaken as exc:
        raise api_error(409, str(exc), name=exc.field) from None
    except TenantError as exc:
        raise api_error(400, str(exc), name=exc.field if exc.field != "parent" else None) from None
    request.response.status = 201
    request.response.location = request.urls.base + f"/api/v1/clients/{tenant.slug}/"
    return client_json(tenant)


@client.get()
@operation(200, ref("Client"), "Get a client", example=CLIENT_EXAMPLE)
def read(request):
    """One direct client, with the same figures as the list."""
    slug = request.matchdict["client"]
    if SLUG_RE.fullmatch(slug) and len(slug) <= 63:
        for listed in list_clients(request.db, request.context.tenant_id, slug=slug):
            return client_json(*listed)
    raise api_error(404, "no such client", location="path", name="client")
