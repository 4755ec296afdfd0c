"""How long a database call may wait, shared by the engine (store.session) and the
pipe hook's driver-only writer (store.pipe_spool), which must not import SQLAlchemy."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL's equivalent of the busy timeout, and a bound for any one
# statement (the longest, a migration's index build on a big table, stays far below).
POSTGRESQL_LOCK_TIMEOUT_MS = 30_000
POSTGRESQL_STATEMENT_TIMEOUT_MS = 600_000
