"""Tracee: production tracking for businesses and their customers."""

from pyramid.config import Configurator

from tracee import settings as settings_module
from tracee.config import configure
from tracee.fronts import Fronts


def main(global_config, **settings):
    """The WSGI application, as PasteDeploy (``pserve``) and gunicorn build it."""
    settings = settings_module.resolve(settings)
    with Configurator(settings=settings) as config:
        configure(config)
    app = Fronts(config.make_wsgi_app(), config.registry)
    if settings.get("tracee.check_schema", "true").lower() == "true":
        from tracee.migrations import SchemaOutOfDate, check_schema

        ini = (global_config or {}).get("__file__", "development.ini")
        try:
            check_schema(config.registry["db.engine"], ini)
        except SchemaOutOfDate as exc:
            raise SystemExit(str(exc)) from None
    return app
