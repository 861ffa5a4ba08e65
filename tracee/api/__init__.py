"""The versioned REST API: Cornice services under /api/v1."""

from operator import itemgetter

RATE_LIMIT_NAMES = frozenset({"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"})


def rate_limit_headers_tween_factory(handler, registry):
    """``X-RateLimit-*`` on every answer to a counted request, errors included.

    A tween over all the others rather than a NewResponse subscriber: with
    no subscriber left Pyramid sends no events at all (tracee.request).
    """

    def tween(request):
        response = handler(request)
        verdict = getattr(request, "rate_limit", None)
        if verdict is not None:
            # As ``headers.update`` would (any of these names already there is
            # replaced), with one pass over the list instead of one per name.
            headerlist = response.headerlist
            # The names joined and lowered in C; "x-ratelimit-" in a name of another
            # kind costs only the filter, which keeps it.
            if "x-ratelimit-" in " ".join(map(itemgetter(0), headerlist)).lower():
                headerlist[:] = [h for h in headerlist if h[0].lower() not in RATE_LIMIT_NAMES]
            headerlist.extend(verdict.headers().items())
        return response

    return tween


def includeme(config):
    from pyramid.tweens import INGRESS

    from tracee.api.json_renderer import REGISTRY_KEY, ApiJsonRenderer
    from tracee.api.keys import KeyCache
    from tracee.cache_epoch import EpochCache
    from tracee.idempotency.store import keep_period

    seconds = float(config.get_settings()["tracee.api.key_cache_seconds"])
    config.registry["api.key_cache"] = KeyCache(seconds)
    # (tenant, tracker id) -> tracking token, for the keyed QR image's repeats.
    config.registry["api.tracker_tokens"] = EpochCache(seconds)
    config.registry["idempotency.keep"] = keep_period(config.get_settings())
    config.include("cornice")
    # Here, not in an include of its own: an include beside cornice's would
    # conflict with the renderer it registers under that name; this one wins.
    renderer = config.registry[REGISTRY_KEY] = ApiJsonRenderer()  # also for json_answer
    config.add_renderer("cornicejson", renderer)
    config.add_tween("tracee.api.rate_limit_headers_tween_factory", under=INGRESS)
    with config.route_prefix_context("/api/v1"):
        config.scan("tracee.api.v1")
