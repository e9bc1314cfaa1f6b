"""Session fixtures: the local stack, started and stopped through the same code as `ops sandbox`.

Each pytest session gets its own stack on free loopback ports in its own folder, so two runs on
one machine never collide. Tests that need it ask for `stack`; pure unit tests never start it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ops import aws
from ops.sandbox import Sandbox, SandboxInfo

# The receiver's fixtures (test CA, Google signer, JWKS endpoint, events), shared by its unit and
# functional tests.
pytest_plugins = ["tests.fixtures.notifications.receiver"]


class Stack(SandboxInfo):
    """The running local stack, as the tests see it."""

    @classmethod
    def of(cls, info: SandboxInfo) -> Stack:
        return cls(**vars(info))

    @property
    def region(self) -> str:
        return "us-east-1"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("sandbox")
    sandbox = Sandbox(root, ports={"prod": 0, "v2": 0, "moto": 0, "dynamodb": 0})
    info = sandbox.up()
    saved = {k: os.environ.get(k) for k in info.env()}
    saved.update({k: os.environ.get(k) for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN")})
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(info.env())
    aws.reset()
    try:
        yield Stack.of(info)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.reset()
        sandbox.down(purge=True)


def _fresh_database(cluster_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return cluster_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def prod_db(stack: Stack) -> str:
    """A fresh, empty database on the `prod` cluster (URL)."""
    return _fresh_database(stack.prod_url)


@pytest.fixture
def v2_db(stack: Stack) -> str:
    """A fresh, empty database on the `v2` cluster (URL)."""
    return _fresh_database(stack.v2_url)


@pytest.fixture
def unique_name() -> str:
    """A name for a per-test DynamoDB table, queue or parameter."""
    return f"t-{uuid.uuid4().hex[:12]}"


FIXTURES = Path(__file__).parent / "fixtures"
