"""What the source PostgreSQL must offer before a replica can read it, measured over SQL.

Logical decoding (DMS CDC and native logical replication alike) needs `wal_level = logical` (on
RDS the parameter `rds.logical_replication = 1` sets it), a free replication slot and a free WAL
sender, and a role with the REPLICATION attribute (on RDS: membership of `rds_replication`) and
SELECT on the replicated tables. A slot keeps every WAL segment its consumer has not confirmed,
so an abandoned slot (inactive, far behind) fills the source's disk: the WAL each slot holds is
measured too. Everything here is read-only and works for a role without superuser; what such a
role cannot read (the WAL folder's size) is reported as unknown, not guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class Slot:
    name: str
    slot_type: str
    active: bool
    retained_bytes: int | None
    wal_status: str | None


@dataclass(frozen=True)
class SourceFacts:
    current_user: str
    wal_level: str
    # None when the server has no such parameter, i.e. it is not Amazon RDS.
    rds_logical_replication: str | None
    max_replication_slots: int
    max_wal_senders: int
    wal_senders_in_use: int
    slots: tuple[Slot, ...]
    max_slot_wal_keep_size: str
    database_bytes: int
    wal_bytes: int | None

    @property
    def on_rds(self) -> bool:
        return self.rds_logical_replication is not None


@dataclass(frozen=True)
class RoleGrants:
    role: str
    exists: bool
    superuser: bool
    replication: bool
    # None when the server has no rds_replication role (not RDS).
    rds_replication: bool | None
    missing_select: tuple[str, ...]

    @property
    def can_replicate(self) -> bool:
        return self.superuser or self.replication or bool(self.rds_replication)


def _setting(conn: psycopg.Connection[Any], name: str) -> str | None:
    row = conn.execute("SELECT current_setting(%s, true)", (name,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def inspect_source(url: str) -> SourceFacts:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        user = conn.execute("SELECT current_user, pg_database_size(current_database())").fetchone()
        assert user is not None
        slots = tuple(
            Slot(str(name), str(kind), bool(active), None if held is None else int(held), status)
            for name, kind, active, held, status in conn.execute(
                "SELECT slot_name, slot_type, active, "
                "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, wal_status "
                "FROM pg_replication_slots ORDER BY slot_name"
            )
        )
        senders = conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
        try:
            wal = conn.execute("SELECT coalesce(sum(size), 0)::bigint FROM pg_ls_waldir()").fetchone()
            wal_bytes: int | None = int(wal[0]) if wal else None
        except psycopg.errors.InsufficientPrivilege:
            wal_bytes = None
        return SourceFacts(
            current_user=str(user[0]),
            wal_level=_setting(conn, "wal_level") or "unknown",
            rds_logical_replication=_setting(conn, "rds.logical_replication"),
            max_replication_slots=int(_setting(conn, "max_replication_slots") or 0),
            max_wal_senders=int(_setting(conn, "max_wal_senders") or 0),
            wal_senders_in_use=int(senders[0]) if senders else 0,
            slots=slots,
            max_slot_wal_keep_size=_setting(conn, "max_slot_wal_keep_size") or "-1",
            database_bytes=int(user[1]),
            wal_bytes=wal_bytes,
        )


def role_grants(url: str, role: str, tables: Sequence[str], schema: str = "public") -> RoleGrants:
    """What `role` may do for replication, read from the catalog by any role."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone()
        if row is None:
            return RoleGrants(role, False, False, False, None, tuple(tables))
        rds_role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication'").fetchone()
        rds_member: bool | None = None
        if rds_role:
            member = conn.execute("SELECT pg_has_role(%s, 'rds_replication', 'MEMBER')", (role,)).fetchone()
            rds_member = bool(member and member[0])
        missing = tuple(
            t
            for t in tables
            if conn.execute(
                "SELECT CASE WHEN to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NULL THEN false "
                "ELSE has_table_privilege(%s, format('%%I.%%I', %s::text, %s::text), 'SELECT') END",
                (schema, t, role, schema, t),
            ).fetchone()
            != (True,)
        )
        return RoleGrants(role, True, bool(row[0]), bool(row[1]), rds_member, missing)
