"""One request class for the whole application, made once at start.

Pyramid gives each request what ``add_request_method`` registered
(``request.db``, ``request.urls``, Cornice's ``current_service``, ...) by
creating a new subclass of the request class for that request: ``type()``
and zope.interface's bookkeeping on every call, about a tenth of a keyed
read. Once the configuration is committed, the same descriptors go on one
subclass, which becomes the request factory; a reified attribute is still
computed once per request, on first use. Request attributes are still
registered the Pyramid way, with ``add_request_method``.

The same class takes over what Cornice's one event subscriber did for every
request (see :func:`take_over_cornice_hook`), so that, with no subscriber
left, Pyramid sends none of its five events per request.
"""

from cornice.errors import Errors
from cornice.pyramidhook import wrap_request
from pyramid.decorator import reify
from pyramid.interfaces import IRequestExtensions, IRequestFactory
from pyramid.request import Request

# After every add_request_method and add_subscriber (order 0), whoever included it.
AFTER_REQUEST_METHODS = 10


class CorniceState:
    """What Cornice's ``wrap_request`` set on each request, made when first used."""

    @reify
    def validated(self) -> dict:
        return {}

    @reify
    def errors(self) -> Errors:
        return Errors()

    @reify
    def info(self) -> dict:
        return {}


def fold_request_extensions(registry) -> None:
    base = registry.queryUtility(IRequestFactory, default=Request)
    attributes = {"__module__": base.__module__}
    extensions = registry.queryUtility(IRequestExtensions)
    if extensions is not None:
        attributes.update({**extensions.methods, **extensions.descriptors})
        # With no extensions left, the router applies none per request.
        registry.unregisterUtility(extensions, IRequestExtensions)
    bases = (CorniceState, base) if take_over_cornice_hook(registry) else (base,)
    registry.registerUtility(type(base.__name__, bases, attributes), IRequestFactory)


def take_over_cornice_hook(registry) -> bool:
    """Unregister Cornice's NewRequest subscriber, whose work CorniceState does.

    ``wrap_request`` gives every request (pages too) ``validated``,
    ``errors`` and ``info``, and two response callbacks: the services'
    filters and CORS headers, which no service here uses (checked below,
    so one that does keeps the hook), and ``X-Content-Type-Options``, which
    tracee.headers sets on every response.
    """
    for service in getattr(registry, "cornice_services", {}).values():
        if service.cors_enabled or any(
            args.get("filters") for _method, _view, args in service.definitions
        ):
            return False
    if registry.settings.get("available_languages"):
        return False  # its errors would need the request's localizer
    found = False
    for registration in list(registry.registeredHandlers()):
        if getattr(registration.handler, "__wrapped__", registration.handler) is wrap_request:
            registry.unregisterHandler(registration.handler, registration.required)
            found = True
    if not any(registry.registeredHandlers()) and not any(
        registry.registeredSubscriptionAdapters()
    ):
        registry.has_listeners = False  # Pyramid then skips every notification
    return found


def includeme(config):
    config.action(None, fold_request_extensions, args=(config.registry,),
                  order=AFTER_REQUEST_METHODS)
