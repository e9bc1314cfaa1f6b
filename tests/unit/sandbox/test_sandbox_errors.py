"""Bad-input paths of the local stack: each fails before starting anything, with the fix."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from ops.exceptions import SandboxError
from ops.sandbox import processes
from ops.sandbox.postgres import find_bindir
from ops.sandbox.stack import Sandbox, SandboxInfo, render_exports


def test_missing_postgres_binaries_name_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPS_PG_BINDIR", str(tmp_path))
    with pytest.raises(SandboxError, match=r"initdb, pg_ctl.*apt-get install postgresql-15.*OPS_PG_BINDIR"):
        find_bindir()


def test_port_taken_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind((processes.LOOPBACK, 0))
        listener.listen()
        taken = listener.getsockname()[1]
        sandbox = Sandbox(tmp_path, ports={"prod": 0, "v2": 0, "moto": taken, "dynamodb": 0})
        with pytest.raises(SandboxError, match=rf"Port {taken} .*moto.*--moto-port"):
            sandbox.up()
    assert not (tmp_path / "state.json").exists()
    assert not (tmp_path / "pg").exists()


def _dead_pid() -> int:
    pid = 4_000_000
    while processes.pid_alive(pid):
        pid -= 1
    return pid


def test_stale_state_is_reported_and_down_clears_it(tmp_path: Path) -> None:
    dead = _dead_pid()
    (tmp_path / "state.json").write_text(
        json.dumps(
            {
                "root": str(tmp_path),
                "components": {"moto": {"pid": dead, "port": 1}},
                "started_at": 0,
            }
        )
    )
    sandbox = Sandbox(tmp_path)
    with pytest.raises(SandboxError, match=rf"moto \(pid {dead}\).*`ops sandbox down`"):
        sandbox.up()
    assert sandbox.down() == ["moto"]
    assert not (tmp_path / "state.json").exists()


def test_unreadable_state_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(SandboxError, match="unreadable"):
        Sandbox(tmp_path).status()


def test_info_without_a_running_stack_says_how_to_start_it(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="ops sandbox up"):
        Sandbox(tmp_path).info()


def test_exports_are_shell_quoted_and_drop_a_profile() -> None:
    info = SandboxInfo(
        "postgresql://p@127.0.0.1:1/diary",
        "postgresql://p@127.0.0.1:2/diary",
        1,
        "http://127.0.0.1:3",
        "http://127.0.0.1:4",
        "dynamodb-local",
    )
    text = render_exports({**info.env(), "WEIRD": "a b'c"})
    assert "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:4" in text
    assert "export WEIRD='a b'\"'\"'c'" in text
    assert text.endswith("unset AWS_PROFILE AWS_SESSION_TOKEN")


def test_stop_pid_never_signals_a_process_that_is_not_ours() -> None:
    # PID 1 is alive but is not a moto server: stop_pid must leave it alone and report "gone".
    assert processes.stop_pid(1, "moto.server-not-this-one") is True
    assert processes.pid_alive(1)
