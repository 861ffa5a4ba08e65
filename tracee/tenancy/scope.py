"""The one place that keeps every query inside its tenant.

A session is bound to a tenant with :func:`bind_tenant`. From then on every
ORM select, update and delete on a :class:`TenantScoped` class gets
``tenant_id = <bound>`` added, new rows get the bound tenant, and on
PostgreSQL the transaction carries ``app.tenant_id`` for the row-level
security policies (the second wall, see the migrations). Touching tenant
data on an unbound session is a programming error and raises.

A :class:`TenantConnection` (``request.reads``, for requests that only read)
is bound the same way and carries the same setting; an ORM Session made from
it shares its binding and its transaction.
"""

from contextlib import contextmanager

from sqlalchemy import ForeignKey, String, column, event, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, mapped_column, with_loader_criteria
from sqlalchemy.sql import Select, visitors
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.sql.functions import FunctionElement

from tracee.driver_select import DriverSelect

TENANT_KEY = "tenant_id"


class TenantScopeError(RuntimeError):
    """Tenant data was touched without a tenant, or across tenants."""


class TenantScoped:
    """Mixin for tenant-owned tables: ``tenant_id`` leads the primary key."""

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, sort_order=-2
    )


def bind_tenant(session: Session, tenant_id: int) -> None:
    bound = session.info.get(TENANT_KEY)
    if bound is not None and bound != tenant_id:
        raise TenantScopeError("a session serves one tenant")
    session.info[TENANT_KEY] = tenant_id
    # A transaction already under way gets the setting now, unless the
    # directory row that named the tenant set it already (read_directory_row);
    # otherwise _rls_on_begin sets it as the next one begins, before its first
    # statement. So binding costs at most one round trip, and often none.
    if not session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return
    _ensure_rls_tenant(session, session.connection(), tenant_id)


@contextmanager
def visiting(session: Session, tenant_id: int):
    """Serve ``tenant_id`` for a block of reads, then the bound tenant again.

    For an agency's overview of its clients, whose rows row-level security
    shows one tenant at a time; the caller has checked that the agency may
    see ``tenant_id``. Nothing may be pending in the session: a row stamped
    inside the block would belong to the visited tenant.
    """
    if session.new or session.dirty or session.deleted:
        raise TenantScopeError("visiting another tenant with changes pending")
    bound = session.info.get(TENANT_KEY)
    postgres = session.get_bind().dialect.name == "postgresql"
    session.info[TENANT_KEY] = tenant_id
    if postgres:
        _set_rls_tenant(session, session.connection(), tenant_id)
    try:
        yield
    finally:
        session.info[TENANT_KEY] = bound
        if postgres and session.in_transaction():
            # Back to the bound tenant, or to none (an empty setting matches no row).
            _set_rls_tenant(session, session.connection(), "" if bound is None else bound)


def bound_tenant(session: Session) -> int | None:
    return session.info.get(TENANT_KEY)


def require_tenant(session: Session) -> int:
    """The bound tenant, for the few Core queries the ORM hook below never sees."""
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is None:
        raise TenantScopeError("tenant data read without a tenant bound")
    return tenant_id


# is_local=true: the setting dies with the transaction, so a pooled
# connection never carries one tenant's id into another request.
# On the driver's cursor, like the directory reads: it is a keyed request's
# one statement besides them when the key was remembered (no directory row
# set the tenant), and SQLAlchemy's execution and result machinery cost more
# than the round trip's own work. PostgreSQL only (its callers check).
_SET_RLS_TENANT = DriverSelect(
    text("SELECT set_config('app.tenant_id', :tenant, true)").columns(column("set_config", String))
)


def _set_rls_tenant(session, connection, tenant_id: int | str) -> None:
    _SET_RLS_TENANT.rows(connection, {"tenant": str(tenant_id)})
    _note_rls_tenant(session, connection, str(tenant_id))


def _note_rls_tenant(session, connection, tenant: str) -> None:
    """Note which tenant ``app.tenant_id`` holds, and in which transaction (the
    setting dies with it): the connection's, which a Session that joins a
    :class:`TenantConnection` shares with it, so neither sets it twice.
    Under a TenantConnection that is the driver's transaction
    (:data:`_DRIVER_TRANSACTION`, in the ``info`` both share): SQLAlchemy may
    begin its own over it, or not at all."""
    session.info[_RLS_SET] = (_transaction_of(session, connection), tenant)


def _ensure_rls_tenant(session, connection, tenant_id: int) -> None:
    if session.info.get(_RLS_SET) != (_transaction_of(session, connection), str(tenant_id)):
        _set_rls_tenant(session, connection, tenant_id)


def _transaction_of(session, connection):
    return session.info.get(_DRIVER_TRANSACTION) or connection.get_transaction()


class _SetRlsTenant(FunctionElement):
    name = "set_rls_tenant"
    type = String()
    inherit_cache = True


@compiles(_SetRlsTenant)
def _no_rls(element, compiler, **kw):
    return "NULL"


@compiles(_SetRlsTenant, "postgresql")
def _set_rls_from_row(element, compiler, **kw):
    tenant_id = compiler.process(element.clauses, **kw)
    return f"set_config('app.tenant_id', CAST({tenant_id} AS TEXT), true)"


_RLS_SET = "rls_set"
# info: the driver transaction a TenantConnection's statements run in, until it ends.
_DRIVER_TRANSACTION = "driver_transaction"
RLS_COLUMN = "rls_tenant"


def rls_tenant_of(tenant_id_column):
    """A column for a directory query (an API key, a tracking link): on
    PostgreSQL, reading the row also sets the transaction's ``app.tenant_id``
    to the row's tenant, saving the round trip of a separate ``set_config``.
    It reads as the tenant id set (text), NULL on other databases.

    The directory query's WHERE must select at most the row whose tenant is
    about to be bound: PostgreSQL evaluates it for every row returned.
    """
    return _SetRlsTenant(tenant_id_column).label(RLS_COLUMN)


def read_directory_row(session: Session, statement, params: dict):
    """The first row of a directory query with an :func:`rls_tenant_of`
    column, noting for :func:`bind_tenant` which tenant it set, and in which
    transaction (the setting dies with it).

    A select runs on the driver's cursor (it is how every keyed request and
    tracking page finds its tenant: see tracee.driver_select) and comes back
    as a named tuple; anything else (an UPDATE ... RETURNING) as a Row.
    """
    connection = session.connection()
    if isinstance(statement, Select):
        row = _driver_select(statement).first(connection, params)
    else:
        row = connection.execute(statement, params).first()
    if row is not None and getattr(row, RLS_COLUMN) is not None:
        _note_rls_tenant(session, connection, getattr(row, RLS_COLUMN))
    return row


# Directory selects are prebuilt module constants; each keeps its DriverSelect.
# The statement is held too, so its id() cannot be reused by another.
_DRIVER_SELECTS: dict[int, tuple[Select, DriverSelect]] = {}


def _driver_select(statement: Select) -> DriverSelect:
    held = _DRIVER_SELECTS.get(id(statement))
    if held is None or held[0] is not statement:
        if len(_DRIVER_SELECTS) >= 256:  # bounded, should a caller ever build them per call
            _DRIVER_SELECTS.clear()
        held = _DRIVER_SELECTS[id(statement)] = (statement, DriverSelect(statement))
    return held[1]


@event.listens_for(Session, "after_begin")
def _rls_on_begin(session, _transaction, connection):
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is not None and connection.dialect.name == "postgresql":
        _ensure_rls_tenant(session, connection, tenant_id)


class TenantConnection:
    """A request's database for reads that need no ORM: a pooled Connection in
    one transaction, bound to a tenant like a Session (``request.reads``).

    The keyed read of a tracker, the tracking page and the embed read through
    prebuilt Core selects on the driver's cursor; around them, an ORM
    Session's state machine (its transaction, the connection for its bind,
    commit and close) was most of what SQLAlchemy still cost such a request.
    This holds what the tenant scope uses of a Session (``info``,
    ``connection()``, ``in_transaction()``, ``get_transaction()``,
    ``get_bind()``), so :func:`bind_tenant`, :func:`read_directory_row` and
    :func:`require_tenant` take either, and binds the tenant as a transaction
    begins as :func:`_rls_on_begin` does for a Session.

    Anything else asked of it (an ORM query, a write, a cache miss that loads
    objects) goes to a Session made on first need that joins this
    connection's transaction and shares its tenant binding: the request keeps
    one connection and one transaction, and the transaction tween ends both.

    The transaction is the driver's own, begun by its first statement
    (psycopg and sqlite3 begin one implicitly), and ended here by the
    driver's commit or rollback: SQLAlchemy's begin and commit of a
    Connection send nothing more, and their bookkeeping (a transaction
    object, its events and state checks) was a fiftieth of a keyed read's
    CPU. SQLAlchemy begins its own over the same driver transaction only
    where it is asked to run something (a Core execute, or the Session),
    and then ends it itself.
    """

    def __init__(self, session_factory, keeper=None):
        self._factory = session_factory
        self._keeper = keeper  # tracee.kept_connection: the worker's connection, kept
        self.info = {}
        self._connection = None
        self._session = None
        self._settled = True  # no driver transaction may be open

    def get_bind(self):
        return self._factory.kw["bind"]

    def connection(self):
        if self._session is not None:
            return self._session.connection()
        if self._settled:  # no transaction under way: the next statement begins one
            self._settled = False
            self.info[_DRIVER_TRANSACTION] = _DriverTransaction()
            if self._connection is None:
                self._connection = (self._keeper.take() if self._keeper is not None
                                    else self.get_bind().connect())
            tenant_id = self.info.get(TENANT_KEY)
            if tenant_id is not None and self._connection.dialect.name == "postgresql":
                _set_rls_tenant(self, self._connection, tenant_id)
        return self._connection

    def in_transaction(self) -> bool:
        if self._session is not None:
            return self._session.in_transaction()
        return self._connection is not None

    def get_transaction(self):
        if self._session is not None:
            return self._session.get_transaction()
        return None if self._connection is None else self._connection.get_transaction()

    def session(self) -> Session:
        """The request's Session, joined to this connection and its transaction."""
        if self._session is None:
            connection = self.connection()
            if not connection.in_transaction():
                connection.begin()  # over the driver's (it sends nothing), for the Session to join
            session = self._factory(bind=connection, join_transaction_mode="control_fully")
            session.info.update(self.info)
            self.info = session.info  # one binding from now on, whichever is used
            self._session = session
        return self._session

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.session(), name)

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
        elif self._connection is not None:
            connection = self._connection
            if connection.in_transaction():
                connection.commit()
            else:
                _end_driver_transaction(connection, "commit")
        self._settled = True
        self.info.pop(_DRIVER_TRANSACTION, None)

    def close(self) -> None:
        """Return the connection; used again, like a closed Session, it takes another."""
        session, connection = self._session, self._connection
        settled = self._settled
        self._session = self._connection = None
        self._settled = True
        self.info.pop(_DRIVER_TRANSACTION, None)
        try:
            if session is not None:
                session.close()  # rolls back whatever was not committed
        finally:
            if connection is not None:
                try:
                    if not settled and not connection.in_transaction():
                        _end_driver_transaction(connection, "rollback")
                finally:
                    if self._keeper is not None:
                        self._keeper.give_back(connection)
                    else:
                        connection.close()


@event.listens_for(Session, "after_transaction_end")
def _driver_transaction_ended(session, transaction):
    # A Session joined to a TenantConnection ended the transaction (a commit
    # in the middle of a request): the next one is SQLAlchemy's, and a new
    # tenant setting is due in it.
    if transaction.parent is None and _DRIVER_TRANSACTION in session.info:
        del session.info[_DRIVER_TRANSACTION]


class _DriverTransaction:
    """Stands for a transaction the driver began and SQLAlchemy does not know of."""

    __slots__ = ()


def _end_driver_transaction(connection, how: str) -> None:
    """Commit or roll back the driver's transaction under ``connection``; a
    failure is handled as SQLAlchemy handles one (a lost connection is
    invalidated, so it is never kept) and raised as SQLAlchemy raises it.
    Listeners on the engine see it as they see SQLAlchemy's own."""
    if connection.invalidated:
        return  # nothing to end: the database ended it with the connection
    if connection._has_events or connection.engine._has_events:
        getattr(connection.dispatch, how)(connection)
    driver = connection.connection.dbapi_connection
    try:
        getattr(driver, how)()
    except connection.dialect.loaded_dbapi.Error as error:
        connection._handle_dbapi_exception(error, how.upper(), None, None, None)


def _tenant_tables_in(statement) -> set[str]:
    """Names of tenant tables anywhere in ``statement``: FROM, joins, subqueries, CTEs.

    ``all_mappers`` only lists the entities being selected, so a count over a
    subquery or ``select(func.count()).select_from(TrackerStep)`` escaped it.
    """
    tenant_tables, pending = set(), list(TenantScoped.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "__table__" in vars(cls):
            tenant_tables.add(cls.__table__.name)
    return {
        element.name for element in visitors.iterate(statement)
        if isinstance(element, TableClause) and element.name in tenant_tables
    }


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state):
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # already scoped by the statement that loaded the parent
    tenant_id = state.session.info.get(TENANT_KEY)
    if tenant_id is None:
        touched = _tenant_tables_in(state.statement)
        if touched:
            raise TenantScopeError(f"query on {', '.join(sorted(touched))} without a tenant bound")
        return
    # Added whenever a tenant is bound: the criteria reach the tenant's
    # entities wherever they appear in the statement, subqueries included.
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session, _context, _instances):
    tenant_id = session.info.get(TENANT_KEY)
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if tenant_id is None:
            raise TenantScopeError(f"new {type(obj).__name__} without a tenant bound")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantScopeError(f"new {type(obj).__name__} for another tenant")


def request_reads(request):
    """``request.reads``: the request's database for reads, its Session if
    one was made already, else a TenantConnection; transaction_tween ends it."""
    session = request.__dict__.get("db")  # where reify keeps it
    if session is not None:
        return session
    registry = request.registry
    return TenantConnection(registry["db.session_factory"], registry["db.keeper"])
