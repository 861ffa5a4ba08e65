"""What every v1 service shares: its route factory, error handler, path form,
and ``Idempotency-Key`` on every POST."""

from cornice import Service

from tracee.api.context import api_context
from tracee.api.errors import cornice_error_handler
from tracee.api.idempotent import idempotent


class ApiService(Service):
    def add_view(self, method, view, **kw):
        if method.upper() == "POST":
            # First in the tuple is outermost: the key is checked before validation.
            extra = kw.get("decorator") or ()
            kw["decorator"] = (idempotent, *(extra if isinstance(extra, tuple) else (extra,)))
        super().add_view(method, view, **kw)


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
