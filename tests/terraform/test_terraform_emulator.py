"""Staging and prod applied for real into ONE emulated account (moto's server), checked, torn down the
way runbooks/infrastructure.md says, and staging applied again.

What runs: the production link roots against stand-ins of the application's VPC and database, both
environment roots with the real provider (in parallel, as two teams would), a `terraform plan`
after each apply that must show nothing but the listed emulator differences, the ops CLI pointed at
`terraform output -json ops_environment`, prod's teardown (protection off, destroy, final snapshot
kept, secrets in their recovery window) and staging's (nothing left behind), then staging again
under the same names. `make tf-apply-local` runs this file alone and prints each step's time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.terraform import emulator, tooling
from tests.terraform.emulator import ACCOUNT_ID, MotoServer, Production, Workspace

pytestmark = [pytest.mark.terraform, pytest.mark.stack]

STAGING, PROD = "envs/staging", "envs/prod"
# What carries deletion protection in an environment (the teardown turns it off on these only).
PROTECTED = (
    "-target=module.environment.module.rds_postgres.aws_db_instance.this",
    "-target=module.environment.module.dynamodb.aws_dynamodb_table.this",
    "-target=module.environment.module.dynamodb.aws_dynamodb_table.control",
)
LINK = "production-link"
# The stand-ins of the applications' databases, named as the production-link roots name them.
APPLICATIONS = {STAGING: ("app-staging", "10.1.0.0/16"), PROD: ("app-prod", "10.0.0.0/16")}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def workspace(
    moto: MotoServer, terraform_bin: str, plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    ws = Workspace(terraform_bin, plugin_dir, tmp_path_factory.mktemp("emulator"), moto)
    print(f"\nterraform logs: {ws.base / 'logs'}")
    try:
        yield ws
    finally:
        print(f"\nterraform against the emulator:\n{ws.report()}")


def environment_arguments(ws: Workspace, env: str, app: Production, **extra: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {s.argument: s.value for s in emulator.EMULATOR_SETTINGS if env in s.roots}
    arguments.update(
        production_vpc_id=app.vpc_id,
        production_vpc_owner_id=ACCOUNT_ID,
        source_database={"address": app.db_address, "instance_identifier": app.db_instance_identifier},
        lambda_package_dir=str(ws.root("modules/notifications/tests/fixtures")),
        backfill_worker_count=1,
        **extra,
    )
    return arguments


def link_arguments(app: Production) -> dict[str, Any]:
    return {
        "source_db_instance_identifier": app.db_instance_identifier,
        "route_table_ids": list(app.route_table_ids),
    }


def in_parallel(*chains: Callable[[], None]) -> None:
    """Run the environments' chains side by side (one emulated account, like two teams would)."""
    with ThreadPoolExecutor(max_workers=len(chains)) as pool:
        for future in [pool.submit(chain) for chain in chains]:
            future.result()


def assert_no_drift(ws: Workspace, root: str, *args: str) -> None:
    differences = emulator.plan_differences(ws.plan(root, *args))
    problems = emulator.unexplained(differences)
    assert not problems, (
        f"{root}: the plan right after apply changes more than the emulator explains "
        "(real drift, or add it to EMULATOR_PLAN_DIFFERENCES with its reason):\n" + "\n".join(problems)
    )


def ops(ws: Workspace, environment: dict[str, str], *args: str) -> dict[str, Any]:
    """The ops CLI as an operator runs it, with `terraform output -json ops_environment` exported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OPS_", "PROD_", "V2_"))}
    env.update(environment)
    env.update(emulator.CREDENTIALS, AWS_ENDPOINT_URL=ws.moto.endpoint, COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "ops", *args, "--json"],
        cwd=tooling.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        return dict(json.loads(proc.stdout))
    except ValueError:
        pytest.fail(
            f"ops {' '.join(args)} printed no JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )


def check_with_the_cli(ws: Workspace, root: str) -> None:
    environment = ws.outputs(root)["ops_environment"]
    assert all(isinstance(v, str) and v for v in environment.values()), environment

    dry = ops(ws, environment, "migrate", "preflight", "--dry-run")
    assert dry["dry_run"] and dry["ok"], dry
    statuses = [s["status"] for s in dry["steps"]]
    assert statuses[0] == "ok" and len(statuses) > 1 and set(statuses[1:]) == {"planned"}, dry

    # The full preflight reads every AWS resource the cutover touches; only the databases, which
    # the emulator does not run, may fail, and only because their URLs are not set.
    result = ops(ws, environment, "migrate", "preflight", "--yes")
    checks = {c["name"]: c for c in result["gate"]["checks"]}
    for name in (
        "V2 RDS instance",
        "source free storage",
        "target table + PITR",
        "control table read/write",
        "flag readable by the app",
        "CloudWatch alarms exist",
        "flag matches ledger",
    ):
        assert checks[name]["ok"], f"{root}: preflight check {name!r} failed: {checks[name]}"
    assert "missing" not in checks["CloudWatch alarms exist"]["measured"], checks["CloudWatch alarms exist"]
    for name, variable in (
        ("production PostgreSQL", "PROD_DATABASE_URL"),
        ("V2 replica PostgreSQL", "V2_DATABASE_URL"),
    ):
        assert not checks[name]["ok"] and checks[name]["measured"] == f"{variable} not set", checks[name]

    rows = emulator.health(ws.moto, environment)
    print(f"\n{root}: health of what ops_environment names\n" + emulator.render_health(rows))
    assert all(row.ok for row in rows), [row for row in rows if not row.ok]


def test_allowed_account_ids_refuse_another_account(workspace: Workspace) -> None:
    """The adversary: credentials of another account. The env's own pin (its tfvars) must stop the plan."""
    ws = workspace
    root = "envs/staging"
    ws.configure(root, "environment", {}, pin_account=False)
    ws.init(root)
    result = ws.run(root, "plan", "-input=false", what=f"{root}: plan in the wrong account", check=False)
    assert not result.ok and "not allowed" in result.output, result.describe()


@pytest.mark.timeout(2400)
def test_staging_and_prod_share_an_account_tear_down_and_come_back(workspace: Workspace) -> None:
    ws = workspace
    apps = {env: emulator.create_production(ws.moto, *APPLICATIONS[env]) for env in (STAGING, PROD)}
    for env, app in apps.items():
        ws.configure(env, "environment", environment_arguments(ws, env, app))
    # Prod's production link goes through both of its applies; staging's is the same module.
    prod_link = f"{PROD}/{LINK}"
    ws.configure(prod_link, "production_link", link_arguments(apps[PROD]))

    def peering() -> str:
        return f"-var=peering_connection_id={ws.outputs(PROD)['production_peering_connection_id']}"

    # -- apply, in the order runbooks/infrastructure.md gives (link, environment, link again)
    def apply_prod() -> None:
        ws.apply(prod_link)
        ws.apply(PROD)
        ws.apply(prod_link, peering())

    in_parallel(lambda: ws.apply(STAGING), apply_prod)

    names = {env: ws.outputs(env)["ops_environment"] for env in (STAGING, PROD)}
    # Only settings that are not names of resources in the account may be equal.
    shared = {k for k in names[STAGING] if k.startswith("OPS_") and names[STAGING][k] == names[PROD].get(k)}
    assert shared <= {
        "OPS_REPLICATION_USER",
        "OPS_DATASET",
        "OPS_METRICS_NAMESPACE",
        "OPS_REPLICA_DRIVER",
        "OPS_REVERSE_DRIVER",
        "OPS_OUTBOX_MAX_AGE_SECONDS",
    }, shared
    assert ws.outputs(prod_link)["peering_accept_status"] == "active"
    prod_secrets = sorted(ws.outputs(PROD)["secret_recovery_windows"])

    # -- a plan right after the apply: nothing to change but what the emulator does not keep
    in_parallel(
        lambda: assert_no_drift(ws, STAGING),
        lambda: assert_no_drift(ws, PROD),
        lambda: assert_no_drift(ws, prod_link, peering()),
    )
    for env in (STAGING, PROD):
        check_with_the_cli(ws, env)

    # -- staging: destroy by default, nothing left, and back under the same names at once
    def staging_again() -> None:
        ws.destroy(STAGING, "-refresh=false")
        left = emulator.leftovers(ws.moto, "platform-ops-staging")
        assert left == emulator.Leftovers([], [], [], [], [], []), f"staging's destroy left {left}"
        ws.apply(STAGING)
        assert_no_drift(ws, STAGING)
        again = ws.outputs(STAGING)["ops_environment"]
        # Identifiers AWS generates (not names) are new after a re-creation.
        generated = {"NOTIFICATIONS_RECEIVER_URL", "OPS_REVERSE_MAPPING_UUID"}
        assert {k: v for k, v in again.items() if k not in generated} == {
            k: v for k, v in names[STAGING].items() if k not in generated
        }, "staging came back under other names"

    # -- prod: its runbook (the link first, protection off, destroy; the snapshot and secrets kept)
    def prod_teardown() -> None:
        ws.destroy(prod_link, "-refresh=false", peering())
        ws.configure(
            PROD, "environment", environment_arguments(ws, PROD, apps[PROD], deletion_protection=False)
        )
        # Only the protected resources: the rest of the plan is the emulator's differences, which
        # an apply would try to "fix" against an API that does not keep them.
        ws.apply(PROD, "-refresh=false", *PROTECTED)
        ws.destroy(PROD, "-refresh=false")
        left = emulator.leftovers(ws.moto, "platform-ops-prod")
        assert left.rds_instances == left.tables == left.queues == left.secrets == [], left
        assert [s for s in left.snapshots if s.startswith("platform-ops-prod-v2-final-")], left
        assert left.secrets_in_recovery == prod_secrets, (
            f"prod's secrets must wait in their recovery window: {left}"
        )

    in_parallel(staging_again, prod_teardown)
