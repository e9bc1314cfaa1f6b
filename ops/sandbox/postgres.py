"""Throwaway PostgreSQL 15 clusters from the system's binaries, on loopback only.

`initdb` and `pg_ctl` refuse to run as root. As root the cluster's data folder is owned by the
`postgres` system user and every server command runs through `runuser -u postgres --`; as a normal
user they run directly.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ops.exceptions import SandboxError
from ops.sandbox.processes import LOOPBACK

DATABASE = "diary"

# Settings for a throwaway cluster: logical replication on, durability off (it is rebuilt at will).
SERVER_SETTINGS = {
    "listen_addresses": LOOPBACK,
    "unix_socket_directories": "",
    "wal_level": "logical",
    "max_wal_senders": "20",
    "max_replication_slots": "20",
    "max_logical_replication_workers": "8",
    "max_worker_processes": "16",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
}


def running_as_root() -> bool:
    return os.geteuid() == 0


def find_bindir() -> Path:
    """The folder with initdb/pg_ctl: $OPS_PG_BINDIR, `pg_config --bindir`, or Debian's layout."""
    candidates: list[Path] = []
    if os.environ.get("OPS_PG_BINDIR"):
        candidates.append(Path(os.environ["OPS_PG_BINDIR"]))
    else:
        pg_config = shutil.which("pg_config")
        if pg_config:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    looked = (
        ", ".join(str(c) for c in candidates) or "nothing found by pg_config or /usr/lib/postgresql/*/bin"
    )
    raise SandboxError(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found (looked in: {looked}). "
        "Install them (Debian: `apt-get install postgresql-15`) "
        "or set OPS_PG_BINDIR to the folder that has them."
    )


def _postgres_user_can_write(folder: Path) -> bool:
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-w", str(folder), "-a", "-x", str(folder)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def prepare_data_root(preferred: Path, fallback: Path) -> Path:
    """The folder that will hold the clusters' data folders.

    As root, the `postgres` user must be able to reach and write it; a folder inside a private
    (0700) parent cannot be, so the fallback under the system temp folder is used and recorded.
    """
    if not running_as_root():
        preferred.mkdir(parents=True, exist_ok=True)
        return preferred
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise SandboxError(
            "Running as root, but there is no `postgres` system user to own the clusters "
            "(initdb refuses root). Create it (`useradd --system postgres`) or run as a normal user."
        ) from exc
    for folder in (preferred, fallback):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, pw.pw_uid, pw.pw_gid)
        folder.chmod(0o755)
        if _postgres_user_can_write(folder):
            return folder
    raise SandboxError(
        f"The postgres user cannot write {preferred} nor {fallback}; give it access to one of them "
        "or run as a normal user."
    )


@dataclass
class PostgresCluster:
    name: str
    data_dir: Path
    port: int
    log_path: Path
    bindir: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{DATABASE}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / args[0]), *args[1:]]
        if running_as_root():
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise SandboxError(
                f"PostgreSQL cluster {self.name!r}: `{' '.join(args)}` failed: "
                f"{(result.stderr or result.stdout).strip()}"
            )
        return result

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized():
            return
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if running_as_root():
            pw = pwd.getpwnam("postgres")
            self.data_dir.mkdir(exist_ok=True)
            os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> int:
        options = " ".join(f"-c {k}={v!s}" if v else f"-c {k}=''" for k, v in SERVER_SETTINGS.items())
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if running_as_root():
            pw = pwd.getpwnam("postgres")
            if not self.log_path.exists():
                self.log_path.touch()
            os.chown(self.log_path, pw.pw_uid, pw.pw_gid)
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port} {options}",
            "start",
        )
        pid = self.postmaster_pid()
        if pid is None:
            raise SandboxError(f"PostgreSQL cluster {self.name!r} started but wrote no postmaster.pid")
        self.ensure_database()
        return pid

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.initialized():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop", check=False)

    def ensure_database(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DATABASE}")

    def health(self) -> str:
        with psycopg.connect(self.url, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT current_setting('server_version'), current_setting('wal_level')"
            ).fetchone()
        assert row is not None
        return f"PostgreSQL {row[0].split()[0]}, wal_level={row[1]}"
