"""Tracee: production tracking for businesses and their customers."""

from pyramid.config import Configurator

from tracee import settings as settings_module
from tracee.api.qr_front import KeyedQrFront
from tracee.config import configure
from tracee.front_cache import FrontCache
from tracee.progress_front import ProgressFront


def main(global_config, **settings):
    """The WSGI application, as PasteDeploy (``pserve``) and gunicorn build it."""
    settings = settings_module.resolve(settings)
    with Configurator(settings=settings) as config:
        configure(config)
    app = FrontCache(ProgressFront(KeyedQrFront(config.make_wsgi_app(), config.registry),
                                   config.registry["progress_versions"]))
    if settings.get("tracee.check_schema", "true").lower() == "true":
        from tracee.migrations import SchemaOutOfDate, check_schema

        ini = (global_config or {}).get("__file__", "development.ini")
        try:
            check_schema(config.registry["db.engine"], ini)
        except SchemaOutOfDate as exc:
            raise SystemExit(str(exc)) from None
    return app
