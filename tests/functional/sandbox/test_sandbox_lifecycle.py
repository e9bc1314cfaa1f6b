"""The whole `ops sandbox` lifecycle on real processes: up, status, env, up again, down."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from ops.cli.main import app
from ops.sandbox import processes, stack
from ops.sandbox.stack import Sandbox

FREE = {"prod": 0, "v2": 0, "moto": 0, "dynamodb": 0}


def _shell_env(root: Path) -> dict[str, str]:
    result = CliRunner().invoke(app, ["sandbox", "env", "--root", str(root)])
    assert result.exit_code == 0, result.output
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PG"))}
    out = subprocess.run(["bash", "-c", f"{result.output}\nenv -0"], capture_output=True, env=env, check=True)
    return dict(line.split("=", 1) for line in out.stdout.decode().split("\0") if "=" in line)


def test_up_status_env_down_leaves_nothing_behind(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, ports=dict(FREE))
    info = sandbox.up()
    state = stack.State.load(sandbox.state_path)
    assert state is not None
    pids = {name: comp.pid for name, comp in state.components.items()}
    ports = [comp.port for comp in state.components.values()]
    try:
        assert set(pids) == {"prod", "v2", "moto", "dynamodb"}
        assert info.dynamodb_engine == "dynamodb-local"
        health = {row.name: row.healthy for row in sandbox.status()}
        assert health == {"prod": True, "v2": True, "moto": True, "dynamodb": True}

        cli = CliRunner().invoke(app, ["sandbox", "status", "--root", str(tmp_path)])
        assert cli.exit_code == 0, cli.output
        assert cli.output.count("healthy") == 4

        shell = _shell_env(tmp_path)
        # Every setting the runbooks and gates read, under the names Terraform's ops_environment gives.
        assert shell["NOTIFICATIONS_DATABASE_URL"] == shell["PROD_DATABASE_URL"]
        assert shell["OPS_CONTROL_TABLE"] == "platform-ops-control"
        assert shell["OPS_NOTIFICATIONS_DLQ"] == "subscription-notifications-dlq.fifo"
        assert "NOTIFICATIONS_RECEIVER_URL" not in shell  # only while `ops notifications serve` runs
        psql = subprocess.run(
            ["psql", "-tAc", "SHOW wal_level"], capture_output=True, text=True, env=shell, check=True
        )
        assert psql.stdout.strip() == "logical"
        psql_v2 = subprocess.run(
            ["psql", shell["V2_DATABASE_URL"], "-tAc", "SELECT current_database()"],
            capture_output=True,
            text=True,
            env=shell,
            check=True,
        )
        assert psql_v2.stdout.strip() == "diary"
        session = boto3.session.Session(
            aws_access_key_id=shell["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=shell["AWS_SECRET_ACCESS_KEY"],
            region_name=shell["AWS_DEFAULT_REGION"],
        )
        ddb = session.client("dynamodb", endpoint_url=shell["AWS_ENDPOINT_URL_DYNAMODB"])
        ddb.create_table(
            TableName="probe",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        # DynamoDB Local enforces DynamoDB's own validation, which moto does not: 26 items is too many.
        with pytest.raises(ddb.exceptions.ClientError, match="Too many items"):
            ddb.batch_write_item(
                RequestItems={"probe": [{"PutRequest": {"Item": {"pk": {"S": str(i)}}}} for i in range(26)]}
            )
        sqs = session.client("sqs", endpoint_url=shell["AWS_ENDPOINT_URL"])
        assert sqs.create_queue(QueueName="probe.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

        again = sandbox.up()
        assert again == info
        state_again = stack.State.load(sandbox.state_path)
        assert state_again is not None
        assert {n: c.pid for n, c in state_again.components.items()} == pids
    finally:
        stopped = sandbox.down(purge=True)
    assert set(stopped) == {"prod", "v2", "moto", "dynamodb"}
    assert not any(processes.pid_alive(pid) for pid in pids.values())
    assert not any(processes.port_accepts(port) for port in ports)
    assert not sandbox.state_path.exists()
    cli = CliRunner().invoke(app, ["sandbox", "status", "--root", str(tmp_path)])
    assert cli.exit_code == 1
    assert "ops sandbox up" in cli.output


def test_without_java_dynamodb_falls_back_to_moto_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "java_major_version", lambda: None)
    said: list[str] = []
    sandbox = Sandbox(tmp_path, ports=dict(FREE), echo=said.append)
    try:
        info = sandbox.up()
        assert info.dynamodb_engine == "moto"
        assert info.dynamodb_endpoint == info.aws_endpoint
        assert any("Java 17+ not found" in line and "moto" in line for line in said)
        rows = {row.name: row for row in sandbox.status()}
        assert rows["dynamodb"].healthy and rows["dynamodb"].detail.startswith("moto")
        down = CliRunner().invoke(app, ["sandbox", "down", "--purge", "--root", str(tmp_path)])
        assert down.exit_code == 0, down.output
        assert "Deleted the data" in down.output and "starts empty" in down.output
        assert not (tmp_path / "pg").exists()
    finally:
        sandbox.down(purge=True)
