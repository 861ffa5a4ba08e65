"""One request class for the whole application, made once at start.

Pyramid gives each request what ``add_request_method`` registered
(``request.db``, ``request.urls``, Cornice's ``current_service``, ...) by
creating a new subclass of the request class for that request: ``type()``
and zope.interface's bookkeeping on every call, about a tenth of a keyed
read. Once the configuration is committed, the same descriptors go on one
subclass, which becomes the request factory; a reified attribute is still
computed once per request, on first use. Request attributes are still
registered the Pyramid way, with ``add_request_method``.
"""

from pyramid.interfaces import IRequestExtensions, IRequestFactory
from pyramid.request import Request

# After every add_request_method (order 0), whoever included it.
AFTER_REQUEST_METHODS = 10


def fold_request_extensions(registry) -> None:
    extensions = registry.queryUtility(IRequestExtensions)
    if extensions is None:
        return
    base = registry.queryUtility(IRequestFactory, default=Request)
    attributes = {**extensions.methods, **extensions.descriptors, "__module__": base.__module__}
    registry.registerUtility(type(base.__name__, (base,), attributes), IRequestFactory)
    # With no extensions left, the router applies none per request.
    registry.unregisterUtility(extensions, IRequestExtensions)


def includeme(config):
    config.action(None, fold_request_extensions, args=(config.registry,),
                  order=AFTER_REQUEST_METHODS)
