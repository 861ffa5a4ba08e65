"""What pyproject.toml cannot say: the migrations ship inside the package.

``alembic/`` stays at the top of the repository (where ``alembic -c
development.ini`` looks), and a build maps it to ``tracee/_migrations``, so an
installed wheel can run ``tracee db upgrade`` (see tracee/migrations.py).
The customer's message catalogs ship compiled: each ``tracee/locale/*/
LC_MESSAGES/*.po`` becomes its ``.mo`` beside it in the build (a wheel, or
the checkout itself for an editable install), so no process compiles one.
Everything else about the distribution is in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py


def compile_catalogs(package_dir: Path) -> None:
    # Babel is a build requirement (pyproject.toml), and a dependency.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(package_dir.glob("locale/*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        with po.with_suffix(".mo").open("wb") as compiled:
            write_mo(compiled, catalog)


class BuildWithCatalogs(build_py):
    def run(self):
        super().run()
        # Editable installs read the checkout; others the build's copy of the package.
        built = Path("tracee") if self.editable_mode else Path(self.build_lib) / "tracee"
        compile_catalogs(built)

# Namespace packages too: templates/ and static/ hold no Python but ship.
PACKAGES = find_namespace_packages(include=["tracee", "tracee.*"], exclude=["*.__pycache__"])

setup(
    cmdclass={"build_py": BuildWithCatalogs},
    packages=[*PACKAGES, "tracee._migrations", "tracee._migrations.versions"],
    package_dir={"tracee._migrations": "alembic"},
    package_data={
        # Recursive, so a new template folder or vendored asset ships without an edit here.
        "tracee": ["templates/**/*", "static/**/*", "accounts/*.txt.gz", "locale/**/*"],
        "tracee._migrations": ["script.py.mako"],
    },
)
