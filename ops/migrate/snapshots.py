"""Final snapshots taken before a destructive cutover step: an RDS snapshot of the V2 instance on
AWS, and a `pg_dump` (custom format, restorable with `pg_restore`) of the tables about to be
dropped, into a snapshot folder. A snapshot that fails stops the step before anything is deleted.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ops.exceptions import OpsError
from ops.migrate import adapters


class SnapshotFailed(OpsError):
    """A final snapshot could not be taken; nothing was deleted."""


@dataclass(frozen=True)
class Snapshot:
    kind: str  # "pg_dump" | "rds"
    location: str
    tables: tuple[str, ...] = ()
    size_bytes: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "location": self.location,
            "tables": list(self.tables),
            "size_bytes": self.size_bytes,
        }


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def pg_dump_path() -> str:
    found = shutil.which("pg_dump")
    if found:
        return found
    from ops.sandbox.postgres import find_bindir

    candidate = find_bindir() / "pg_dump"
    if candidate.is_file():
        return str(candidate)
    raise SnapshotFailed("pg_dump not found; install the PostgreSQL client tools or set OPS_PG_BINDIR")


def dump_tables(url: str, tables: list[str], folder: Path, label: str) -> Snapshot:
    """`pg_dump -Fc` of `tables` into `folder/<label>-<time>.dump`; verified non-empty."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{label}-{stamp()}.dump"
    argv = [pg_dump_path(), "--format=custom", "--no-owner", f"--file={target}"]
    argv += [f"--table={t}" for t in tables]
    argv.append(f"--dbname={url}")
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        raise SnapshotFailed(
            f"pg_dump of {', '.join(tables)} failed (exit {done.returncode}): {done.stderr.strip()[:500]}; "
            "nothing was deleted. Fix the cause and re-run the command."
        )
    return Snapshot("pg_dump", str(target), tuple(tables), target.stat().st_size)


def rds_final_snapshot(instance: str, label: str) -> Snapshot:
    snapshot_id = f"{instance}-{label}-{stamp()}".lower().replace("_", "-")
    try:
        info = adapters.rds_snapshot(instance, snapshot_id)
    except adapters.AwsError as exc:
        raise SnapshotFailed(
            f"RDS snapshot of {instance} failed ({adapters.describe_error(exc)}); nothing was deleted"
        ) from exc
    return Snapshot("rds", str(info["snapshot"]))
