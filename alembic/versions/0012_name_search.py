"""An index for searching trackers by name that row-level security lets PostgreSQL use.

The list's search is ``lower(name) LIKE '%term%'``. A trigram (pg_trgm GIN)
index cannot serve it for the app: under forced row-level security the
planner lets only LEAKPROOF operators into an index scan ahead of the
policy, and LIKE, ILIKE, pg_trgm's operators, ``@@`` and every GIN array
operator are not. Equality and ordering of text are, and so is
``starts_with``.

``tracker_name_suffixes`` therefore holds, for every position of a tracker's
lowered name except spaces, the next 12 characters (the name's suffixes, cut
short), in byte order (``COLLATE "C"``) so that "begins with" is a B-tree
range: a term of up to 12 characters occurs in a name exactly when some
suffix begins with it, and a longer term can only occur where its first 12
do. Keyed (tenant_id, suffix, tracker_id), so a search is one index-only
range scan of the tenant's part.

A trigger on ``trackers`` keeps the rows (every writer, one place for the
whole rule; ``lower()`` is the database's, the same the search compares
with), and empties the table when ``trackers`` is truncated. No foreign
key: it would check each of a name's ~30 rows on every create; the trigger
removes a tracker's rows when it goes (tenant deletion cascades through
trackers), looking them up by their full key.

SQLite has the table (one schema for both) but no trigger: there the search
scans, which is fine at SQLite's scale, and the table stays empty.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

TENANT_MATCH = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::integer"
TABLE = "tracker_name_suffixes"
# The rows of one name, as a query over {row} (NEW or OLD in the trigger, the
# table in the backfill). Keep in step with tracee.tracking.search.
SUFFIXES = """
    SELECT DISTINCT {row}.tenant_id, substr(lower({row}.name), p, 12), {row}.id
    FROM generate_series(1, length(lower({row}.name))) AS p
    WHERE substr(lower({row}.name), p, 1) <> ' '"""
TRIGGER_FUNCTION = f"""
CREATE FUNCTION index_tracker_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM {TABLE} s USING ({SUFFIXES.format(row="OLD")}) AS gone (tenant_id, suffix, id)
        WHERE s.tenant_id = gone.tenant_id AND s.suffix = gone.suffix AND s.tracker_id = gone.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO {TABLE} (tenant_id, suffix, tracker_id) {SUFFIXES.format(row="NEW")};
    END IF;
    RETURN NULL;
END $$"""
TRUNCATE_FUNCTION = f"""
CREATE FUNCTION truncate_tracker_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE {TABLE};
    RETURN NULL;
END $$"""

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("suffix", sa.String(length=12, collation="C" if postgresql else None),
                  nullable=False),
        sa.Column("tracker_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "suffix", "tracker_id", name=op.f(f"pk_{TABLE}")),
    )
    if not postgresql:
        return
    op.execute(TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER index_tracker_name AFTER INSERT OR DELETE OR UPDATE OF name "
        "ON trackers FOR EACH ROW EXECUTE FUNCTION index_tracker_name()"
    )
    op.execute(TRUNCATE_FUNCTION)  # TRUNCATE fires no row triggers
    op.execute("CREATE TRIGGER truncate_tracker_names AFTER TRUNCATE ON trackers "
               "FOR EACH STATEMENT EXECUTE FUNCTION truncate_tracker_names()")
    # The existing names. Forced row-level security hides every tenant's rows
    # from the owner too; lifted for this one statement, inside the migration's
    # transaction (ALTER TABLE locks the table, so nobody else sees it lifted).
    op.execute("ALTER TABLE trackers NO FORCE ROW LEVEL SECURITY")
    op.execute(f"INSERT INTO {TABLE} (tenant_id, suffix, tracker_id) "
               f"{SUFFIXES.format(row='trackers').replace('FROM', 'FROM trackers,', 1)}")
    op.execute("ALTER TABLE trackers FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {TABLE} "
        f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("truncate_tracker_names", "index_tracker_name"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON trackers")
            op.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {TABLE}")
    op.drop_table(TABLE)
