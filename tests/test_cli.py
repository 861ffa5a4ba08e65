"""The ``tracee`` command line: every command works, and every failure is one
line on stderr with exit status 2, never a traceback."""

import os
import re
import textwrap
import threading
import time

import pytest
import sqlalchemy as sa
from pyramid.paster import get_appsettings
from webtest import TestApp

import tracee
from tracee.cli.main import main
from tracee.tenancy.service import create_tenant

KEY_RE = re.compile(r"tk_live_[0-9A-Za-z]{38}")


def write_ini(path, url, **extra):
    settings = "\n".join(f"{k} = {v}" for k, v in extra.items())
    path.write_text(textwrap.dedent("""\
        [app:main]
        use = egg:tracee
        sqlalchemy.url = {url}
        tracee.public_url = https://tracee.test
        """).format(url=url.replace("%", "%%")) + settings + "\n")
    return str(path)


@pytest.fixture
def run(capsys):
    """run(ini, *argv) -> (exit status, stdout, stderr)."""

    def invoke(ini, *argv):
        capsys.readouterr()
        code = main(["-c", ini, *argv] if ini else list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def assert_fails(result, *words):
    code, out, err = result
    assert code == 2, (out, err)
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith("tracee: ")
    assert "Traceback" not in err
    for word in words:
        assert word.lower() in err.lower(), (word, err)
    return err


@pytest.fixture
def ini(database, tmp_path):
    """An ini pointing at the test database, as the app's own role."""
    return write_ini(tmp_path / "test.ini", database.app_url)


@pytest.fixture
def fresh_sqlite_ini(tmp_path):
    return write_ini(tmp_path / "fresh.ini", f"sqlite:///{tmp_path / 'fresh.sqlite'}")


def rows(database, sql, **params):
    with database.admin_engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_from_scratch_on_sqlite(run, fresh_sqlite_ini):
    """db upgrade, a tenant, a key; an app built from the same ini accepts the key."""
    assert run(fresh_sqlite_ini, "db", "upgrade")[:2] == (0, "database is up to date\n")
    assert run(fresh_sqlite_ini, "db", "upgrade")[0] == 0  # again: nothing to do
    code, out, _ = run(fresh_sqlite_ini, "tenant", "create", "acme", "--name", "Acme Prints")
    assert (code, out) == (0, "created tenant acme (id 1)\n")
    code, out, _ = run(fresh_sqlite_ini, "key", "create", "acme", "--name", "Production server")
    assert code == 0
    key = out.splitlines()[-1]
    assert KEY_RE.fullmatch(key)
    app = TestApp(tracee.main({"__file__": fresh_sqlite_ini}, **get_appsettings(fresh_sqlite_ini)))
    created = app.post_json("/api/v1/trackers/", {"name": "Order #1", "template": "3d-printing"},
                            headers={"X-API-Key": key}, status=201).json
    assert created["tracking_url"].startswith("https://tracee.test/track/")


def test_tenant_create_and_list(run, ini):
    assert run(ini, "tenant", "create", "agency", "--name", "The Agency")[0] == 0
    code, out, err = run(ini, "tenant", "create", "client", "--name", "  Client Co  ",
                         "--parent", "agency", "--domain", "Track.Client.Test",
                         "--color", "#0f766e", "--logo-url", "https://cdn.example/logo.png")
    assert code == 0 and out.startswith("created tenant client (id ") and err == ""
    code, out, _ = run(ini, "tenant", "list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\d+\tagency\tThe Agency", lines[0])
    assert re.fullmatch(r"\d+\tclient\tClient Co agency=agency domain=track.client.test",
                        lines[1])


def test_duplicate_slug_is_one_line_and_exit_2(run, ini, database):
    assert run(ini, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    result = run(ini, "tenant", "create", "acme", "--name", "Other Acme")
    assert_fails(result, "already exists", "acme")
    assert result[1] == ""
    assert rows(database, "SELECT name FROM tenants") == [("Acme",)]


@pytest.mark.parametrize(
    "args, words",
    [
        (["Bad Slug", "--name", "x"], ["slug"]),
        (["trailing-", "--name", "x"], ["slug"]),
        (["double--hyphen", "--name", "x"], ["slug"]),
        (["a" * 64, "--name", "x"], ["slug"]),
        (["slug\n", "--name", "x"], ["slug"]),
        (["ok", "--name", "   "], ["name"]),
        (["ok", "--name", "x" * 201], ["name"]),
        (["ok", "--name", "bell\x07"], ["name"]),
        (["ok", "--name", "del\x7f"], ["name"]),
        (["ok", "--name", "c1\x85inside"], ["name"]),
        (["ok", "--name", "x", "--color", "red"], ["colour"]),
        (["ok", "--name", "x", "--color", "#0f766e\n"], ["colour"]),
        (["ok", "--name", "x", "--color", "#0f766e0"], ["colour"]),
        (["ok", "--name", "x", "--domain", "not a domain"], ["host name"]),
        (["ok", "--name", "x", "--domain", "localhost"], ["host name"]),
        (["ok", "--name", "x", "--logo-url", "http://insecure.example/l.png"], ["https"]),
        (["ok", "--name", "x", "--logo-url", "javascript:alert(1)"], ["https"]),
        (["ok", "--name", "x", "--logo-url", "https://[::1"], ["https"]),
        (["ok", "--name", "x", "--domain", "tracee.test"], ["platform's own host"]),
        (["ok", "--name", "x", "--domain", "Api.Tracee.Test."], ["platform's own host"]),
        (["ok", "--name", "x", "--parent", "nobody"], ["no tenant", "nobody"]),
    ],
)
def test_tenant_create_refusals(run, ini, database, args, words):
    assert_fails(run(ini, "tenant", "create", *args), *words)
    assert rows(database, "SELECT count(*) FROM tenants") == [(0,)]


def test_domain_and_agency_depth_rules(run, ini):
    assert run(ini, "tenant", "create", "a", "--name", "A", "--domain", "track.a.test")[0] == 0
    # Only the platform's host and its subdomains are reserved, not look-alikes.
    assert run(ini, "tenant", "create", "m", "--name", "M", "--domain", "mytracee.test")[0] == 0
    assert_fails(run(ini, "tenant", "create", "b", "--name", "B", "--domain", "TRACK.A.TEST."),
                 "already belongs")
    assert run(ini, "tenant", "create", "b", "--name", "B", "--parent", "a")[0] == 0
    assert run(ini, "tenant", "create", "c", "--name", "C", "--parent", "b")[0] == 0
    assert_fails(run(ini, "tenant", "create", "d", "--name", "D", "--parent", "c"), "3 levels")


@pytest.mark.parametrize(
    "command",
    [
        ["key", "create", "nobody", "--name", "k"],
        ["key", "list", "nobody"],
        ["key", "revoke", "nobody", "1"],
    ],
)
def test_unknown_tenant(run, ini, command):
    assert_fails(run(ini, *command), "no tenant with slug 'nobody'")


@pytest.mark.parametrize(
    "rate",
    ["lots", "100", "5/fortnight", "0/minute", "-5/minute", "", " 5/minute",
     "1/second;1000/day", "1/second;2/second;3/second;4/second;5/second"],
)
def test_bad_rate_limit(run, ini, database, rate):
    assert run(ini, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    assert_fails(run(ini, "key", "create", "acme", "--name", "k", f"--rate-limit={rate}"),
                 "rate limit")
    assert rows(database, "SELECT count(*) FROM api_keys") == [(0,)]


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "nul\x00name", "tab\tname"])
def test_bad_key_name(run, ini, name):
    assert run(ini, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    assert_fails(run(ini, "key", "create", "acme", "--name", name), "key name")


def test_key_create_prints_the_key_alone_on_the_last_line(run, ini, app, database):
    assert run(ini, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, out, err = run(ini, "key", "create", "acme", "--name", "Shop", "--rate-limit",
                         "7/minute")
    assert code == 0 and err == ""
    *before, last = out.splitlines()
    assert KEY_RE.fullmatch(last)
    assert all(last not in line for line in before)
    assert any(f"{last[:12]}...{last[-4:]}" in line for line in before)  # masked form
    response = app.get("/api/v1/trackers/", headers={"X-API-Key": last}, status=200)
    assert response.headers["X-RateLimit-Limit"] == "7"
    # only the hash is kept
    assert last not in str(rows(database, "SELECT * FROM api_keys"))


@pytest.fixture
def keyed(run, ini):
    """acme with two keys, globex with one: {name: (id, key)}."""
    keys = {}
    for slug in ("acme", "globex"):
        assert run(ini, "tenant", "create", slug, "--name", slug.title())[0] == 0
    for slug, name in (("acme", "first"), ("acme", "second"), ("globex", "theirs")):
        code, out, _ = run(ini, "key", "create", slug, "--name", name)
        key_id = int(re.search(r"created key (\d+)", out).group(1))
        keys[name] = (key_id, out.splitlines()[-1])
    return keys


def test_key_list_masks_keys(run, ini, keyed):
    code, out, _ = run(ini, "key", "list", "acme")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split("\t") == ["id", "name", "key", "created", "last used", "revoked",
                                  "rate limit"]
    assert [line.split("\t")[1] for line in lines] == ["first", "second"]
    for name in ("first", "second"):
        key = keyed[name][1]
        assert key not in out and key[12:-4] not in out
        assert f"{key[:12]}...{key[-4:]}" in out
    assert keyed["theirs"][1][-4:] + "\t" not in out  # not another tenant's key
    assert all(line.split("\t")[4:] == ["-", "-", "default"] for line in lines)


def test_key_list_shows_use_and_revocation(run, ini, app, keyed):
    app.get("/api/v1/trackers/", headers={"X-API-Key": keyed["first"][1]}, status=200)
    assert run(ini, "key", "revoke", "acme", str(keyed["second"][0]))[0] == 0
    _, out, _ = run(ini, "key", "list", "acme")
    first, second = (line.split("\t") for line in out.splitlines()[1:])
    assert first[4].endswith(" UTC") and first[5] == "-"
    assert second[4] == "-" and second[5].endswith(" UTC")


@pytest.mark.parametrize("by", ["id", "full key", "full key with spaces"])
def test_key_revoke(run, ini, app, keyed, by):
    key_id, key = keyed["first"]
    ref = {"id": str(key_id), "full key": key, "full key with spaces": f"  {key} "}[by]
    app.get("/api/v1/trackers/", headers={"X-API-Key": key}, status=200)
    code, out, _ = run(ini, "key", "revoke", "acme", ref)
    assert code == 0 and out.startswith(f"revoked key {key_id} (")
    assert key not in out
    app.get("/api/v1/trackers/", headers={"X-API-Key": key}, status=401)
    app.get("/api/v1/trackers/", headers={"X-API-Key": keyed["second"][1]}, status=200)
    code, out, _ = run(ini, "key", "revoke", "acme", ref)  # again: harmless
    assert code == 0 and "already revoked" in out


@pytest.mark.parametrize("by", ["id", "full key"])
def test_key_revoke_cannot_reach_another_tenants_key(run, ini, app, keyed, by):
    key_id, key = keyed["theirs"]
    assert_fails(run(ini, "key", "revoke", "acme", str(key_id) if by == "id" else key),
                 "no such key")
    app.get("/api/v1/trackers/", headers={"X-API-Key": key}, status=200)


@pytest.mark.parametrize(
    "ref", ["999", "tk_live_nonsense", "0", "2147483648", "9" * 30, "\u00b2", "\u0661"]
)
def test_key_revoke_unknown(run, ini, keyed, ref):
    assert_fails(run(ini, "key", "revoke", "acme", ref), "no such key")


def test_demo_is_idempotent(run, ini, app, database):
    outputs = []
    for _ in range(2):
        code, out, err = run(ini, "demo")
        assert code == 0 and err == ""
        outputs.append(out)
    keys = [out.splitlines()[-1] for out in outputs]
    assert all(KEY_RE.fullmatch(k) for k in keys) and keys[0] != keys[1]
    assert rows(database, "SELECT slug FROM tenants") == [("demo",)]
    assert rows(database, "SELECT number, name FROM trackers") == [(1234,
                                                                     "Order #1234 - Blue Vase")]
    assert rows(database, "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == [(1,)]
    # the old demo key is retired, the new one works and sees the one sample tracker
    app.get("/api/v1/trackers/", headers={"X-API-Key": keys[0]}, status=401)
    listed = app.get("/api/v1/trackers/", headers={"X-API-Key": keys[1]}, status=200).json
    assert [t["current_process"] for t in listed] == ["3D Printing"]
    # the printed tracking URL is the same both times and serves the page
    urls = [re.search(r"Tracking URL: (\S+)", out).group(1) for out in outputs]
    assert urls[0] == urls[1] == listed[0]["tracking_url"]
    app.get(urls[0].replace("https://tracee.test", ""), status=200)


@pytest.mark.parametrize(
    "command",
    [["tenant", "list"], ["tenant", "create", "x", "--name", "X"], ["key", "list", "x"],
     ["demo"]],
)
def test_unmigrated_database_says_to_upgrade(run, fresh_sqlite_ini, command):
    err = assert_fails(run(fresh_sqlite_ini, *command), "not migrated")
    assert f"tracee -c {fresh_sqlite_ini} db upgrade" in err


def test_missing_config_file(run, tmp_path):
    missing = str(tmp_path / "nope.ini")
    assert_fails(run(missing, "tenant", "list"), "not found", missing)


def test_config_from_the_environment(run, ini, monkeypatch):
    monkeypatch.setenv("TRACEE_CONFIG", ini)
    assert run(None, "tenant", "create", "envy", "--name", "Envy")[0] == 0
    monkeypatch.setenv("TRACEE_CONFIG", ini + ".missing")
    assert_fails(run(None, "tenant", "list"), "not found")


def test_config_without_app_section_or_database(run, tmp_path):
    empty = tmp_path / "empty.ini"
    empty.write_text("[server:main]\nuse = egg:waitress#main\n")
    assert_fails(run(str(empty), "tenant", "list"), str(empty))
    no_db = tmp_path / "nodb.ini"
    no_db.write_text("[app:main]\nuse = egg:tracee\n")
    assert_fails(run(str(no_db), "tenant", "list"), "no database configured")


def test_unreachable_database(run, tmp_path):
    ini = write_ini(tmp_path / "down.ini", "postgresql://nobody@127.0.0.1:1/nothing")
    assert_fails(run(ini, "tenant", "list"), "cannot reach the database")
    assert_fails(run(ini, "db", "upgrade"), "cannot reach the database")


def test_app_refuses_to_start_on_an_unmigrated_database(fresh_sqlite_ini):
    with pytest.raises(SystemExit) as exc:
        tracee.main({"__file__": fresh_sqlite_ini}, **get_appsettings(fresh_sqlite_ini))
    message = str(exc.value)
    assert "not migrated" in message
    assert f"tracee -c {fresh_sqlite_ini} db upgrade" in message


@pytest.mark.parametrize(
    "argv", [["bogus"], ["key", "create"], ["tenant", "create", "x"], ["db"]]
)
def test_usage_mistakes_are_one_line_and_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("tracee"), err
    assert "--help" in err


# Bytes that are not UTF-8 reach Python's argv as lone surrogates.
NOT_UTF8 = os.fsdecode(b"caf\xe9")


@pytest.mark.parametrize(
    "command, words",
    [
        (["tenant", "create", "acme", "--name", NOT_UTF8], ["name", "not UTF-8"]),
        (["tenant", "create", NOT_UTF8, "--name", "Acme"], ["slug", "not UTF-8"]),
        (["tenant", "create", "acme", "--name", "A", "--domain", NOT_UTF8], ["domain"]),
        (["tenant", "create", "acme", "--name", "A", "--logo-url", NOT_UTF8], ["logo-url"]),
        (["key", "create", "acme", "--name", NOT_UTF8], ["name", "not UTF-8"]),
        (["key", "list", NOT_UTF8], ["slug", "not UTF-8"]),
        (["key", "revoke", "acme", NOT_UTF8], ["key", "not UTF-8"]),
    ],
)
def test_arguments_that_are_not_utf8(run, ini, database, command, words):
    assert_fails(run(ini, *command), *words)
    assert rows(database, "SELECT count(*) FROM tenants") == [(0,)]


@pytest.mark.parametrize(
    "url, words",
    [
        ("nonsense", ["not a database URL"]),
        ("mysql://admin:s3cret@db.example/tracee", ["driver", "'mysql'", "not installed"]),
        ("postgresql+asyncpg://admin:s3cret@db/tracee", ["driver", "asyncpg", "not installed"]),
        ("nosuchdb://admin:s3cret@db/tracee", ["nosuchdb", "no database kind"]),
    ],
)
@pytest.mark.parametrize("command", [["tenant", "list"], ["db", "upgrade"]])
def test_database_url_that_cannot_be_used(run, fresh_sqlite_ini, monkeypatch, url, words,
                                          command):
    monkeypatch.setenv("DATABASE_URL", url)
    err = assert_fails(run(fresh_sqlite_ini, *command), "DATABASE_URL", *words)
    assert "s3cret" not in err


@pytest.mark.parametrize(
    "content, words",
    [
        ("not an ini file\n", ["no section headers"]),
        ("[app:main]\nuse = egg:tracee\n[app:main]\n", ["already exists"]),
        ("[app:main]\nuse = egg:tracee\nsqlalchemy.url = %(nowhere)s\n", ["nowhere"]),
        ("[app:main]\nuse = egg:no-such-distribution\n", ["no-such-distribution"]),
        (b"[app:main]\n\xff\xfe\n", ["decode"]),
    ],
)
def test_config_that_cannot_be_read(run, tmp_path, content, words):
    path = tmp_path / "broken.ini"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert_fails(run(str(path), "tenant", "list"), str(path), *words)


def test_config_whose_reading_fails(run, tmp_path):
    # Opens, then fails to read (EIO), even for root, who may read any mode bits.
    broken = tmp_path / "broken.ini"
    broken.symlink_to("/proc/self/mem")
    assert_fails(run(str(broken), "tenant", "list"), "cannot read", str(broken))


@pytest.mark.parametrize("taken", ["domain", "slug"])
def test_concurrent_creates_of_one_domain_or_slug(capsys, ini, registry, database, taken):
    """A create that passed the checks while another held the same domain (or
    slug) uncommitted is refused by the unique constraint: one line, exit 2."""
    holder = registry["db.session_factory"]()
    racer = threading.Thread(target=lambda: results.append(main(
        ["-c", ini, "tenant", "create", "first" if taken == "slug" else "second",
         "--name", "Second", "--domain", "track.race.test" if taken == "domain" else "b.test"])))
    results, about_to_insert = [], threading.Event()

    def on_execute(_conn, _cursor, statement, *_args):
        if statement.startswith("INSERT INTO tenants") and threading.current_thread() is racer:
            about_to_insert.set()

    sa.event.listen(sa.Engine, "before_cursor_execute", on_execute)
    try:
        create_tenant(holder, "first", "First", domain="track.race.test", platform_hosts=())
        capsys.readouterr()
        racer.start()
        assert about_to_insert.wait(20), "the racing create never reached its INSERT"
        time.sleep(0.2)  # its INSERT now waits on the row the holder has not committed
        holder.commit()
        racer.join(20)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", on_execute)
        holder.close()
    assert results == [2]
    expected = {"domain": "domain 'track.race.test' already belongs to another tenant",
                "slug": "a tenant with slug 'first' already exists"}[taken]
    assert capsys.readouterr().err == f"tracee: {expected}\n"
    assert rows(database, "SELECT slug, domain FROM tenants") == [("first", "track.race.test")]


def test_an_unexpected_error_is_one_line_too(run, ini, monkeypatch):
    def broken(env, args):
        raise RuntimeError("something nobody\nforesaw")

    monkeypatch.setattr("tracee.cli.commands.tenant_list", broken)
    code, out, err = run(ini, "tenant", "list")
    assert code == 1 and out == ""
    assert err == "tracee: unexpected error: RuntimeError: something nobody foresaw\n"
