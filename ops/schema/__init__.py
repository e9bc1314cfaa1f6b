"""SQL migrations of the couple-diary sample domain (`migrations/NNNN_<name>.sql`, recorded in
`schema_migrations`), applied by the repository's one migration runner."""

from __future__ import annotations

from lambdas.shared.migrations import Migrations

SCHEMA = Migrations("ops.schema", "migrations", "schema_migrations")


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every migration shipped with the package, in order."""
    return SCHEMA.files()


def apply_migrations(conninfo: str) -> list[str]:
    """Apply pending migrations to the database at `conninfo`; return the versions applied now."""
    return SCHEMA.apply(conninfo)


def applied_versions(conninfo: str) -> list[str]:
    return SCHEMA.applied(conninfo)
