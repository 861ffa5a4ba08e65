"""Prebuilt Core selects run on the database driver's own cursor.

The hot reads (a tracker with its steps, a tracking link with its tenants,
an API key) are one prebuilt select each, and through ``Connection.execute``
most of their cost was SQLAlchemy's execution and result machinery, not the
query: an execution context, psycopg's ``cursor.description`` column objects,
result metadata and a Row per row. On PostgreSQL a :class:`DriverSelect` runs
instead the SQL SQLAlchemy compiled from the same construct (once per
dialect) on psycopg's cursor, in the same connection and transaction, so
row-level security and the tenant binding apply as to any other query, and
applies only the conversions the statement's own types ask for (times in
UTC, none when the connection's zone is UTC already).
Errors go through SQLAlchemy's handling, so a dropped connection is replaced
as on every other path, and the engine's cursor events fire as for any
statement. On other databases (the embedded SQLite default,
whose stored text SQLAlchemy converts) it runs through SQLAlchemy. Either
way the rows are plain tuples, or named ones from :meth:`DriverSelect.first`.
"""

from collections import namedtuple
from datetime import UTC

from sqlalchemy.exc import StatementError
from sqlalchemy.sql import Select

from tracee.db import UTCDateTime

_CURSOR = "tracee.driver_select.cursor"  # (driver connection, its cursor) per pooled connection
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})


def in_utc(driver) -> bool:
    """Whether psycopg hands out times in UTC already (the server's or session's TimeZone)."""
    zone = driver.info.timezone
    return zone is UTC or getattr(zone, "key", None) in _UTC_ZONES


class DriverSelect:
    def __init__(self, statement: Select):
        self.statement = statement
        self.Row = namedtuple("Row", statement.selected_columns.keys(), rename=True)
        self._compiled = {}  # dialect -> _Compiled

    def rows(self, connection, params: dict) -> list[tuple]:
        """Every row, as plain tuples (``connection``: a SQLAlchemy Connection)."""
        dialect = connection.dialect
        if dialect.name != "postgresql":
            return [tuple(row) for row in connection.execute(self.statement, params)]
        compiled = self._compiled.get(dialect) or self._compile(dialect)
        try:
            values = compiled.parameters(params)
        except Exception as error:  # a bind value its type refuses, as SQLAlchemy reports it
            raise StatementError(str(error), compiled.sql, params, error) from error
        # The pool's own handles, not Connection.info and .driver_connection:
        # those reach the same dict and (for sync psycopg) the same object
        # through seven property calls, twice per keyed read.
        pooled = connection.connection
        driver = pooled.dbapi_connection
        held = pooled.info.get(_CURSOR)
        if held is None or held[0] is not driver:
            held = pooled.info[_CURSOR] = (driver, driver.cursor())
        cursor = held[1]
        # Listeners on the engine (tracing, statement counts) see it as any statement.
        observed = connection._has_events or connection.engine._has_events
        if observed:
            connection.dispatch.before_cursor_execute(
                connection, cursor, compiled.sql, values, None, False)
        try:
            rows = cursor.execute(compiled.sql, values).fetchall()
        except driver.Error as error:
            # Wrapped and, for a lost connection, the pool invalidated, as
            # Connection.execute would (this raises).
            connection._handle_dbapi_exception(error, compiled.sql, values, cursor, None)
        if observed:
            connection.dispatch.after_cursor_execute(
                connection, cursor, compiled.sql, values, None, False)
        if not compiled.results or (compiled.zone_only and in_utc(driver)):
            return rows  # nothing to convert, or only UTC times to restate as UTC
        return compiled.converted(rows)

    def first(self, connection, params: dict):
        """The first row as a named tuple (by the statement's column keys), or None."""
        rows = self.rows(connection, params)
        return self.Row._make(rows[0]) if rows else None

    def _compile(self, dialect) -> "_Compiled":
        compiled = self._compiled[dialect] = _Compiled(self.statement, dialect)
        return compiled


class _Compiled:
    """The SQL for one dialect with the bind values and result conversions its types need."""

    def __init__(self, statement: Select, dialect):
        compiled = statement.compile(dialect=dialect)
        if compiled.positional or compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a DriverSelect needs named parameters rendered in the SQL")
        self.sql = compiled.string
        self.defaults = dict(compiled.params)  # e.g. a LIMIT's own bound value
        self.binds = [
            (name, processor) for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        self.results = [
            (index, processor) for index, column in enumerate(statement.selected_columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        ]
        # Whether UTCDateTime's zone normalisation is all the conversion there is.
        self.zone_only = all(isinstance(statement.selected_columns[index].type, UTCDateTime)
                             for index, _processor in self.results)

    def parameters(self, params: dict) -> dict:
        values = {**self.defaults, **params}
        for name, processor in self.binds:
            values[name] = processor(values[name])
        return values

    def converted(self, rows: list[tuple]) -> list[tuple]:
        if not self.results or not rows:
            return rows
        out = []
        for row in rows:
            row = list(row)
            for index, processor in self.results:
                row[index] = processor(row[index])
            out.append(tuple(row))
        return out
