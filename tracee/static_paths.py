"""Addresses of the application's own static files, as templates name them.

``request.static_path`` builds an address through Pyramid's route
machinery, some 40,000 instructions a call; a tracking page names three
files on every view. The address depends on nothing but the file and the
request's script name (no cache buster is configured), so each process
builds each one once: templates write ``static_path('tracee:static/x.css')``.
"""

from jinja2 import pass_context

MAX_ENTRIES = 1024  # script names are few (the deployment's); this only bounds a surprise

_built: dict[tuple[str, str], str] = {}


@pass_context
def static_path(context, asset: str) -> str:
    request = context["request"]
    key = (request.script_name, asset)
    found = _built.get(key)
    if found is None:
        if len(_built) >= MAX_ENTRIES:
            _built.clear()
        found = _built[key] = request.static_path(asset)
    return found


def includeme(config):
    # Every template's global: pyramid_jinja2 reads this when it makes the environment.
    globals_ = config.registry.settings.setdefault("jinja2.globals", {})
    if isinstance(globals_, dict):
        globals_.setdefault("static_path", "tracee.static_paths.static_path")
