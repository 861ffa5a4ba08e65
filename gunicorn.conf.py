"""gunicorn reads this file from the working directory: ``gunicorn --paste
production.ini`` in a checkout. The settings ship with the package, in
tracee/gunicorn_conf.py, so an installed wheel has them too."""

from tracee.gunicorn_conf import *  # noqa: F403  (gunicorn ignores names it does not know)
