"""The one place that keeps every query inside its tenant.

A session is bound to a tenant with :func:`bind_tenant`. From then on every
ORM select, update and delete on a :class:`TenantScoped` class gets
``tenant_id = <bound>`` added, new rows get the bound tenant, and on
PostgreSQL the transaction carries ``app.tenant_id`` for the row-level
security policies (the second wall, see the migrations). Touching tenant
data on an unbound session is a programming error and raises.
"""

from sqlalchemy import ForeignKey, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import TableClause

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
    # A transaction already under way gets the setting now; otherwise
    # _rls_on_begin sets it as the next one begins, before its first statement
    # (so binding alone costs no round trip, and it is never sent twice).
    if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        _set_rls_tenant(session.connection(), tenant_id)


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
_SET_RLS_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")


def _set_rls_tenant(connection, tenant_id: int) -> None:
    connection.execute(_SET_RLS_TENANT, {"tenant": str(tenant_id)})


@event.listens_for(Session, "after_begin")
def _rls_on_begin(session, _transaction, connection):
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is not None and connection.dialect.name == "postgresql":
        _set_rls_tenant(connection, tenant_id)


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
