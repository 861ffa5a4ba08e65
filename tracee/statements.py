"""Several statements in one round trip: Core constructs sent together on PostgreSQL.

A write knows its statements before it sends them (a status change: lock the
tracker, read its steps; then update the steps, the tracker, insert the
events). Through a SQLAlchemy Connection each one waited for its own round
trip and paid SQLAlchemy's execution path (execution context, result
metadata, type processing), which cost more CPU than psycopg's own work.
:func:`run_together` sends them to the driver in one psycopg pipeline and
waits once, at the Sync that ends it.

The SQL is the Core constructs' own, compiled once per construct and dialect,
and it runs on the session's connection inside the session's transaction, so
row-level security (``app.tenant_id``, set in that transaction) applies as to
any statement. PostgreSQL runs a pipeline's statements one after the other:
one that starts after a lock was taken sees the rows committed before the
lock was granted (READ COMMITTED takes a snapshot per statement), as it
would in a round trip of its own. An error fails the transaction, as any
failed statement does; the request then rolls back.

Elsewhere (SQLite, in development and tests) the same constructs run one by
one through the Connection and its type processing: the same statements
and the same rows.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

from sqlalchemy.sql import Executable

from tracee.driver_select import in_utc

# (construct, parameters): a dict for one row, a list of dicts for executemany.
Step = tuple[Executable, dict | list[dict]]


@cache
def _compiled(statement: Executable, dialect) -> tuple[str, dict]:
    """The SQL, and the values Core fills in at execution: those it made parameters
    (the 1 of ``seq + 1``) and the columns' own defaults where a row names none."""
    compiled = statement.compile(dialect=dialect)
    fixed = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
    for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
        if column.default is None or not column.default.is_scalar:
            raise ValueError(f"{column} needs a value here: its default is made per row")
        fixed[column.key] = column.default.arg
    return str(compiled), fixed


def run_together(session, steps: Sequence[Step]) -> list[list[tuple]]:
    """Run ``steps`` in order in the session's transaction; each one's rows (none for
    a statement without RETURNING), times in UTC as the ORM's columns give them."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return [_rows(connection.execute(statement, params)) for statement, params in steps]
    driver = connection.connection.driver_connection
    # The engine's statement events still see each statement (tests count them).
    before = connection.dispatch.before_cursor_execute or None
    cursors = []
    with driver.pipeline():
        for statement, params in steps:
            cursor = driver.cursor()
            sql, fixed = _compiled(statement, connection.dialect)
            many = isinstance(params, list)
            if fixed:
                params = [{**fixed, **row} for row in params] if many else {**fixed, **params}
            if before is not None:
                before(connection, cursor, sql, params, None, many)
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            cursors.append(cursor)
    utc = utc_rows(driver)
    return [[utc(row) for row in cursor.fetchall()] if cursor.description else []
            for cursor in cursors]


def _rows(result) -> list[tuple]:
    return [tuple(row) for row in result] if result.returns_rows else []


def utc_rows(driver):
    """What UTCDateTime does for Core, for a driver's rows: times in UTC, whatever
    the connection's TimeZone (nothing to do where it is UTC, as it usually is)."""
    if in_utc(driver):
        return tuple
    return lambda row: tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row)
