"""The versioned REST API: Cornice services under /api/v1."""


def add_rate_limit_headers(event):
    verdict = getattr(event.request, "rate_limit", None)
    if verdict is not None:
        event.response.headers.update(verdict.headers())


def includeme(config):
    from pyramid.events import NewResponse

    from tracee.api.keys import KeyCache
    from tracee.cache_epoch import EpochCache
    from tracee.idempotency.store import keep_period

    seconds = float(config.get_settings()["tracee.api.key_cache_seconds"])
    config.registry["api.key_cache"] = KeyCache(seconds)
    # (tenant, tracker id) -> tracking token, for the keyed QR image's repeats.
    config.registry["api.tracker_tokens"] = EpochCache(seconds)
    config.registry["idempotency.keep"] = keep_period(config.get_settings())
    config.include("cornice")
    config.add_subscriber(add_rate_limit_headers, NewResponse)
    with config.route_prefix_context("/api/v1"):
        config.scan("tracee.api.v1")
