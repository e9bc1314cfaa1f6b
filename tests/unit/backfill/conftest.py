"""The fake DynamoDB endpoint (bench/fake_dynamodb.py) as a real process on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def fake_dynamodb() -> Iterator[Callable[..., str]]:
    """Start fake endpoints with the given options; returns their URLs; stops them afterwards."""
    started: list[subprocess.Popen[str]] = []

    def start(*options: str) -> str:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_dynamodb", *options],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        started.append(proc)
        assert proc.stdout is not None
        return f"http://127.0.0.1:{int(proc.stdout.readline().split()[1])}"

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from ops import aws

    aws.reset()
