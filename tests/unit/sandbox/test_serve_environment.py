"""`ops sandbox env` gives the shell a running `ops notifications serve`'s settings, and only while it
runs, under the names the ops commands and the consumer read."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ops.notifications.local import APP_STORE_KEY_FILE, SERVE_STATE_FILE, serve_environment


def _state(folder: Path, pid: int) -> None:
    (folder / SERVE_STATE_FILE).write_text(
        json.dumps(
            {
                "url": "http://127.0.0.1:4000",
                "play_api": "http://127.0.0.1:4001/",
                "pid": pid,
                "app_store_api": "http://127.0.0.1:4002",
                "app_store_key_id": "KEY",
                "app_store_issuer_id": "ISSUER",
                "app_store_key_path": str(folder / APP_STORE_KEY_FILE),
                "bundle_id": "com.example.couplediary",
            }
        )
    )
    (folder / "consumer-env.json").write_text(
        json.dumps({"DATABASE_URL": "postgresql://x/y", "APPLE_ENVIRONMENT": "Sandbox"})
    )


def test_a_running_serve_gives_its_settings(tmp_path: Path) -> None:
    _state(tmp_path, os.getpid())
    env = serve_environment(tmp_path)
    assert env["NOTIFICATIONS_RECEIVER_URL"] == "http://127.0.0.1:4000"
    assert env["APP_STORE_API_URL"] == "http://127.0.0.1:4002"
    assert env["APP_STORE_CONNECT_PRIVATE_KEY_PATH"].endswith(APP_STORE_KEY_FILE)
    assert (env["APP_STORE_CONNECT_KEY_ID"], env["APP_STORE_CONNECT_ISSUER_ID"]) == ("KEY", "ISSUER")
    assert env["APPLE_ENVIRONMENT"] == "Sandbox"
    # The consumer's database is NOTIFICATIONS_DATABASE_URL (from the stack), not a bare DATABASE_URL.
    assert "DATABASE_URL" not in env


def test_a_serve_that_ended_gives_nothing(tmp_path: Path) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    _state(tmp_path, ended.pid)
    assert serve_environment(tmp_path) == {}
    assert serve_environment(tmp_path / "nothing-here") == {}
