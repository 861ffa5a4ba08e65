"""The question a TLS proxy asks before it gets a certificate for a host name.

Caddy's on-demand TLS (docs/custom-domains.md) asks
``/.well-known/tracee/tls-ask?domain=<host>`` and issues a certificate only
for a 200, so certificates exist for verified custom domains and nothing else.
"""

from pyramid.response import Response
from pyramid.view import view_config

from tracee.tenancy.domains import is_verified_domain


@view_config(route_name="tls_ask", request_method="GET")
def tls_ask(request):
    domain = request.GET.get("domain", "")
    if is_verified_domain(request.db, domain):
        return Response("ok\n", content_type="text/plain")
    return Response("not a verified domain\n", status=404, content_type="text/plain")
