"""SQL migrations of the couple-diary sample domain and the code that applies them.

Migrations are `migrations/NNNN_<name>.sql`, applied in order, each in its own transaction, and
recorded in `schema_migrations`; applying again is a no-op. A transaction-scoped advisory lock
keeps two concurrent callers (tests, demo, sandbox) from applying the same file twice.
"""

from __future__ import annotations

from importlib import resources

import psycopg

# Arbitrary constant shared by every caller of apply_migrations.
_LOCK_ID = 0x6F707373_63686D61

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every migration shipped with the package, in order."""
    folder = resources.files("ops.schema").joinpath("migrations")
    found = sorted(
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return found


def apply_migrations(conninfo: str) -> list[str]:
    """Apply pending migrations to the database at `conninfo`; return the versions applied now."""
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            conn.execute(_BOOKKEEPING)
        for version, sql in migration_files():
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
                done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,))
                if done.fetchone():
                    continue
                conn.execute(sql.encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now


def applied_versions(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return []
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
