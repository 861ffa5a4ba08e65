import pytest

from tracee.settings import normalize_database_url, resolve


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/tracee", "postgresql+psycopg://u:p@db:5432/tracee"),
        ("postgresql://u@db/tracee", "postgresql+psycopg://u@db/tracee"),
        ("postgresql+psycopg://u@db/tracee", "postgresql+psycopg://u@db/tracee"),
        ("sqlite:///tracee.sqlite", "sqlite:///tracee.sqlite"),
    ],
)
def test_database_urls_from_hosting_providers_use_psycopg3(given, expected):
    assert normalize_database_url(given) == expected


def test_environment_overrides_the_ini():
    ini = {
        "sqlalchemy.url": "sqlite:///a.sqlite",
        "tracee.public_url": "http://localhost:6543",
        "tracee.ratelimit.storage": "memory://",
    }
    environ = {
        "DATABASE_URL": "postgres://db/tracee",
        "REDIS_URL": "redis://cache:6379/0",
        "TRACEE_PUBLIC_URL": "https://tracee.app/",
    }
    settings = resolve(ini, environ)
    assert settings["sqlalchemy.url"] == "postgresql+psycopg://db/tracee"
    assert settings["tracee.ratelimit.storage"] == "redis://cache:6379/0"
    assert settings["tracee.public_url"] == "https://tracee.app"


def test_ini_values_stand_without_environment():
    settings = resolve({"sqlalchemy.url": "sqlite:///a.sqlite"}, {})
    assert settings["sqlalchemy.url"] == "sqlite:///a.sqlite"
    assert settings["tracee.ratelimit.storage"] == "memory://"
    assert settings["tracee.ratelimit.api"] == "100/minute"


def test_production_refuses_to_start_without_its_environment():
    ini = {"tracee.required_env": "DATABASE_URL REDIS_URL TRACEE_PUBLIC_URL"}
    with pytest.raises(ValueError, match="REDIS_URL, TRACEE_PUBLIC_URL"):
        resolve(ini, {"DATABASE_URL": "postgres://db/tracee"})


def test_no_database_at_all_is_refused():
    with pytest.raises(ValueError, match="DATABASE_URL"):
        resolve({}, {})
