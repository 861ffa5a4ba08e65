"""What every v1 service shares: its route factory, error handler and path form."""

from cornice import Service

from tracee.api.context import api_context
from tracee.api.errors import cornice_error_handler
from tracee.api.schemas import idempotency_key


class ApiService(Service):
    def post(self, **kwargs):
        """Every POST may carry an Idempotency-Key, so every POST checks its form."""
        return super().post(validators=(idempotency_key, *kwargs.pop("validators", ())), **kwargs)


def api_service(name: str, path: str, factory=api_context, **kw) -> ApiService:
    """A Cornice service answering ``path`` with and without a trailing slash.

    A redirect to the canonical form would make clients drop POST bodies,
    so both forms are served directly.
    """
    return ApiService(
        name=name,
        path=path + "{_slash:/?}",
        factory=factory,
        error_handler=cornice_error_handler,
        cors_enabled=False,
        depth=2,  # venusian registers the service in the caller's module
        **kw,
    )
