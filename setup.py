"""What pyproject.toml cannot say: the migrations ship inside the package.

``alembic/`` stays at the top of the repository (where ``alembic -c
development.ini`` looks), and a build maps it to ``tracee/_migrations``, so an
installed wheel can run ``tracee db upgrade`` (see tracee/migrations.py).
Everything else about the distribution is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

# Namespace packages too: templates/ and static/ hold no Python but ship.
PACKAGES = find_namespace_packages(include=["tracee", "tracee.*"], exclude=["*.__pycache__"])

setup(
    packages=[*PACKAGES, "tracee._migrations", "tracee._migrations.versions"],
    package_dir={"tracee._migrations": "alembic"},
    package_data={
        # Recursive, so a new template folder or vendored asset ships without an edit here.
        "tracee": ["templates/**/*", "static/**/*", "accounts/*.txt.gz"],
        "tracee._migrations": ["script.py.mako"],
    },
)
