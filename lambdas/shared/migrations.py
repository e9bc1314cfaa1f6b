"""One way to apply SQL migrations, for every schema this repository ships.

A schema is a folder of `NNNN_<name>.sql` files inside a package, and a bookkeeping table that
records the versions applied. Files apply in order, each in its own transaction with the record
of it; applying again is a no-op. A transaction-scoped advisory lock (one per schema) keeps two
concurrent callers (tests, the demo, a Lambda cold start) from applying the same file twice.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Migrations:
    package: str  # where the files are, e.g. "ops.schema"
    folder: str  # the folder inside the package, e.g. "migrations"
    table: str  # the bookkeeping table, e.g. "schema_migrations"

    @property
    def lock_id(self) -> int:
        return zlib.crc32(self.table.encode())

    def files(self) -> list[tuple[str, str]]:
        """(version, sql) for every migration shipped with the package, in order."""
        folder = resources.files(self.package).joinpath(self.folder)
        return sorted(
            (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
            for entry in folder.iterdir()
            if entry.name.endswith(".sql")
        )

    def applied(self, conninfo: str) -> list[str]:
        """The versions recorded at `conninfo`, in order (none when the table does not exist)."""
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return self._applied(conn)

    def pending(self, conninfo: str) -> list[str]:
        done = set(self.applied(conninfo))
        return [version for version, _ in self.files() if version not in done]

    def apply(self, conninfo: str) -> list[str]:
        """Apply the pending migrations at `conninfo`; returns the versions applied now."""
        applied_now: list[str] = []
        table = sql.Identifier(self.table)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for version, text in self.files():
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_id,))
                    conn.execute(
                        sql.SQL(
                            "CREATE TABLE IF NOT EXISTS {} ("
                            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                        ).format(table)
                    )
                    done = conn.execute(
                        sql.SQL("SELECT 1 FROM {} WHERE version = %s").format(table), (version,)
                    )
                    if done.fetchone():
                        continue
                    conn.execute(cast(Any, text))
                    conn.execute(sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(table), (version,))
                applied_now.append(version)
        return applied_now

    def _applied(self, conn: psycopg.Connection[Any]) -> list[str]:
        present = conn.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()
        if not present or present[0] is None:
            return []
        query = sql.SQL("SELECT version FROM {} ORDER BY version").format(sql.Identifier(self.table))
        return [row[0] for row in conn.execute(query)]
