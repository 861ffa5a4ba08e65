"""Running Alembic from the app: the server refuses to start on an old schema."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

_HERE = Path(__file__).resolve().parent
# An installed package carries them as tracee/_migrations (setup.py maps the
# repository's alembic/ there); a checkout, editable installs included, has
# them beside tracee/. Beside an installed tracee/ sits the Alembic library,
# which has no env.py of its own: that is why the files are checked.
_CANDIDATES = (_HERE / "_migrations", _HERE.parent / "alembic")


class SchemaOutOfDate(RuntimeError):
    pass


class MigrationsMissing(RuntimeError):
    pass


def script_location() -> Path:
    for folder in _CANDIDATES:
        if (folder / "env.py").is_file() and (folder / "versions").is_dir():
            return folder
    raise MigrationsMissing(
        f"the migrations are missing: no env.py in {' or '.join(map(str, _CANDIDATES))}"
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def check_schema(engine, config_hint: str = "development.ini") -> None:
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}, not {head}"
        raise SchemaOutOfDate(
            f"The database is {state}. Run: tracee -c {config_hint} db upgrade"
        )
