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
        source_database={"address": app.db_address},
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
    assert [s["status"] for s in dry["steps"]] == ["ok", "planned"], dry

    # The full preflight reads every AWS resource the cutover touches; only the databases, which
    # the emulator does not run, may fail, and only because their URLs are not set.
    result = ops(ws, environment, "migrate", "preflight", "--yes")
    checks = {c["name"]: c for c in result["gate"]["checks"]}
    for name in (
        "V2 RDS instance",
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


@pytest.mark.timeout(1800)
def test_staging_and_prod_share_an_account_tear_down_and_come_back(workspace: Workspace) -> None:
    ws = workspace
    apps = {env: emulator.create_production(ws.moto, *APPLICATIONS[env]) for env in (STAGING, PROD)}
    for env, app in apps.items():
        ws.configure(env, "environment", environment_arguments(ws, env, app))
        ws.configure(f"{env}/{LINK}", "production_link", link_arguments(app))

    def peering(env: str) -> str:
        return f"-var=peering_connection_id={ws.outputs(env)['production_peering_connection_id']}"

    # -- apply, in the order runbooks/infrastructure.md gives (prod: link, environment, link again)
    def apply_staging() -> None:
        ws.apply(STAGING)
        ws.apply(f"{STAGING}/{LINK}", peering(STAGING))

    def apply_prod() -> None:
        ws.apply(f"{PROD}/{LINK}")
        ws.apply(PROD)
        ws.apply(f"{PROD}/{LINK}", peering(PROD))

    in_parallel(apply_staging, apply_prod)

    names = {env: ws.outputs(env)["ops_environment"] for env in (STAGING, PROD)}
    shared = {k for k in names[STAGING] if k.startswith("OPS_") and names[STAGING][k] == names[PROD].get(k)}
    assert shared <= {
        "OPS_DATASET",
        "OPS_METRICS_NAMESPACE",
        "OPS_REPLICA_DRIVER",
        "OPS_OUTBOX_MAX_AGE_SECONDS",
    }, shared
    accepted = ws.outputs(f"{PROD}/{LINK}")["peering_accept_status"]
    assert accepted == "active", accepted

    # -- a plan right after the apply: nothing to change but what the emulator does not keep
    def no_drift(root: str) -> Callable[[], None]:
        link = root.endswith(LINK)
        return lambda: assert_no_drift(ws, root, *([peering(root.removesuffix(f"/{LINK}"))] if link else []))

    in_parallel(*[no_drift(root) for root in (STAGING, PROD, f"{STAGING}/{LINK}", f"{PROD}/{LINK}")])
    for env in (STAGING, PROD):
        check_with_the_cli(ws, env)

    # -- teardown: staging by default; prod by its runbook (links first, then protection off)
    def teardown_staging() -> None:
        ws.destroy(f"{STAGING}/{LINK}", peering(STAGING))
        ws.destroy(STAGING)

    def teardown_prod() -> None:
        ws.destroy(f"{PROD}/{LINK}", peering(PROD))
        ws.configure(
            PROD, "environment", environment_arguments(ws, PROD, apps[PROD], deletion_protection=False)
        )
        ws.apply(PROD, "-refresh=false")
        ws.destroy(PROD)

    in_parallel(teardown_staging, teardown_prod)

    left = emulator.leftovers(ws.moto)
    assert left.rds_instances == sorted(app.db_instance_identifier for app in apps.values()), left
    assert left.tables == [] and left.queues == [], left
    assert [s for s in left.snapshots if s.startswith("platform-ops-prod-v2-final-")], left
    assert not [s for s in left.snapshots if s.startswith("platform-ops-staging-")], left
    assert left.secrets_in_recovery and all(
        s.startswith("platform-ops-prod") for s in left.secrets_in_recovery
    ), left
    assert not [s for s in left.secrets if s.startswith("platform-ops-")], left

    # -- staging again, under the same names, right after its destroy
    ws.apply(STAGING)
    assert_no_drift(ws, STAGING)
    again = ws.outputs(STAGING)["ops_environment"]
    assert {k: v for k, v in again.items() if k != "NOTIFICATIONS_RECEIVER_URL"} == {
        k: v for k, v in names[STAGING].items() if k != "NOTIFICATIONS_RECEIVER_URL"
    }, "staging came back under other names"
