"""Apply the Terraform roots for real against moto's server: one emulated account, the real
terraform binary and the real hashicorp/aws provider, its endpoints pointed at the emulator.

Each root is applied from a copy of terraform/ with an `emulator_override.tf` beside it (the way
tflocal points a configuration at LocalStack): a local backend, provider endpoints, and the module
arguments the emulator needs. Those arguments are listed here with their reason
(`EMULATOR_SETTINGS`), as are the plan differences that come from the emulator and not from drift
(`EMULATOR_PLAN_DIFFERENCES`); terraform/README.md lists both and a test keeps it in step.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from rich.console import Console
from rich.table import Table

from ops.sandbox import processes
from tests.terraform import tooling

ACCOUNT_ID = "123456789012"
# moto's server with the fix in tests/terraform/moto_server.py.
MOTO_MODULE = "tests.terraform.moto_server"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Every service the roots call; each gets an endpoint in the provider block.
SERVICES = (
    "apigatewayv2",
    "cloudwatch",
    "cloudwatchlogs",
    "dms",
    "dynamodb",
    "ec2",
    "events",
    "iam",
    "kms",
    "lambda",
    "rds",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "sts",
)


@dataclass(frozen=True)
class EmulatorSetting:
    """A module argument set only against the emulator, because moto cannot emulate what it covers.

    What it turns off stays covered by the modules' `terraform test` files.
    """

    argument: str
    value: Any
    reason: str
    roots: tuple[str, ...] = ("envs/staging", "envs/prod")


EMULATOR_SETTINGS: tuple[EmulatorSetting, ...] = (
    EmulatorSetting(
        "create_sqs_redrive_allow_policy",
        False,
        "moto's SQS does not return RedriveAllowPolicy, so the provider waits for it until it times out",
    ),
    EmulatorSetting(
        "create_dms_replication",
        False,
        "moto's DMS has no CreateReplicationConfig (DMS Serverless); staging's replication config is "
        "planned by terraform test only",
        roots=("envs/staging",),
    ),
    EmulatorSetting(
        "create_dms_account_roles",
        False,
        "both environments share the one emulated account, and exactly one stack per account may "
        "create the account-wide DMS roles (dms-vpc-role, dms-cloudwatch-logs-role): staging does",
        roots=("envs/prod",),
    ),
    EmulatorSetting(
        "enable_backfill_detailed_monitoring",
        False,
        "moto's EC2 has no MonitorInstances (detailed monitoring)",
    ),
)


@dataclass(frozen=True)
class AllowedDifference:
    """A planned in-place change after a clean apply that comes from the emulator, not from drift."""

    resource_type: str
    attribute: str
    reason: str


_NOT_KEPT = "moto does not keep this attribute, so it reads back empty"

EMULATOR_PLAN_DIFFERENCES: tuple[AllowedDifference, ...] = (
    AllowedDifference("aws_db_instance", "performance_insights_enabled", _NOT_KEPT),
    AllowedDifference("aws_db_instance", "performance_insights_kms_key_id", _NOT_KEPT),
    AllowedDifference("aws_db_instance", "performance_insights_retention_period", _NOT_KEPT),
    AllowedDifference(
        "aws_db_parameter_group", "parameter", "moto's DescribeDBParameters returns no parameters"
    ),
    AllowedDifference("aws_dms_replication_subnet_group", "subnet_ids", "moto answers a fixed subnet-12345"),
    AllowedDifference("aws_dynamodb_table", "on_demand_throughput", _NOT_KEPT),
    AllowedDifference("aws_dms_replication_subnet_group", "tags", _NOT_KEPT),
    AllowedDifference("aws_dms_replication_subnet_group", "tags_all", _NOT_KEPT),
    AllowedDifference("aws_lambda_function", "logging_config", _NOT_KEPT),
    AllowedDifference("aws_vpc_security_group_egress_rule", "description", _NOT_KEPT),
    AllowedDifference("aws_vpc_security_group_ingress_rule", "description", _NOT_KEPT),
)


@dataclass(frozen=True)
class Difference:
    address: str
    actions: tuple[str, ...]
    attributes: tuple[str, ...]

    @property
    def resource_type(self) -> str:
        """`aws_lambda_function` of `module.a[0].module.b["k.1"].aws_lambda_function.this[0]`."""
        return re.sub(r"\[[^\]]*\]", "", self.address).split(".")[-2]

    def describe(self) -> str:
        return f"{self.address}: {'/'.join(self.actions)} {', '.join(self.attributes) or ''}".strip()


def changed_attributes(before: Any, after: Any, unknown: Any, path: str = "") -> list[str]:
    """Attribute paths whose planned value differs from the state (or is unknown until apply)."""
    if unknown is True:
        return [path or "(all)"]
    if isinstance(before, dict) and isinstance(after, dict):
        keys = set(before) | set(after) | (set(unknown) if isinstance(unknown, dict) else set())
        return [
            p
            for k in sorted(keys)
            for p in changed_attributes(
                before.get(k),
                after.get(k),
                unknown.get(k) if isinstance(unknown, dict) else None,
                f"{path}.{k}" if path else k,
            )
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        unknowns = unknown if isinstance(unknown, list) else [None] * len(after)
        return [
            p
            for i, (b, a, u) in enumerate(zip(before, after, unknowns, strict=False))
            for p in changed_attributes(b, a, u, f"{path}[{i}]")
        ]
    if isinstance(before, str) and isinstance(after, str) and before != after:
        # A policy the emulator re-serialised is the same policy.
        try:
            return [] if json.loads(before) == json.loads(after) else [path or "(all)"]
        except ValueError:
            pass
    return [] if before == after else [path or "(all)"]


def plan_differences(plan: Mapping[str, Any]) -> list[Difference]:
    """Every resource a `terraform show -json` plan would change, with the attributes that change."""
    found = []
    for change in plan.get("resource_changes", []):
        actions = tuple(change["change"]["actions"])
        if actions in (("no-op",), ("read",)):
            continue
        attributes = changed_attributes(
            change["change"].get("before"),
            change["change"].get("after"),
            change["change"].get("after_unknown"),
        )
        found.append(Difference(change["address"], actions, tuple(attributes)))
    return found


def unexplained(differences: list[Difference]) -> list[str]:
    """Differences no entry of EMULATOR_PLAN_DIFFERENCES explains: real drift, or a new emulator gap."""
    problems = []
    for diff in differences:
        if diff.actions != ("update",):
            problems.append(diff.describe())
            continue
        allowed = [a.attribute for a in EMULATOR_PLAN_DIFFERENCES if a.resource_type == diff.resource_type]
        rest = [a for a in diff.attributes if not any(_within(a, prefix) for prefix in allowed)]
        if rest:
            problems.append(f"{diff.address}: update {', '.join(rest)}")
    return problems


def _within(attribute: str, allowed: str) -> bool:
    return attribute == allowed or attribute.startswith((f"{allowed}.", f"{allowed}["))


# ------------------------------------------------------------------ the emulator


@dataclass
class MotoServer:
    """moto's server on a free loopback port, stopped by the PID it was started with."""

    log_path: Path
    port: int = 0
    pid: int | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{processes.LOOPBACK}:{self.port}"

    def start(self) -> MotoServer:
        self.port = processes.free_port()
        # The AWS managed policies (AmazonDMSVPCManagementRole, ...) exist only when moto loads them.
        env = {
            **os.environ,
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        }
        self.pid = processes.spawn(
            [sys.executable, "-m", MOTO_MODULE, "-H", processes.LOOPBACK, "-p", str(self.port)],
            self.log_path,
            env=env,
            cwd=tooling.REPO,
        )
        processes.wait_until(
            lambda: self.client("sts").get_caller_identity(), 60, "moto server", self.log_path
        )
        return self

    def stop(self) -> None:
        if self.pid is not None:
            processes.stop_pid(self.pid, MOTO_MODULE)
            self.pid = None

    def client(self, service: str) -> Any:
        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        ).client(service, endpoint_url=self.endpoint, config=Config(retries={"max_attempts": 2}))


# ------------------------------------------------------------------ the application's side


@dataclass(frozen=True)
class Production:
    """What the production link is applied to: the application's VPC and database (made with boto3,
    standing in for what exists before the migration)."""

    vpc_id: str
    vpc_cidr: str
    route_table_ids: tuple[str, ...]
    db_instance_identifier: str
    db_address: str


def create_production(moto: MotoServer, name: str, cidr: str) -> Production:
    ec2 = moto.client("ec2")
    rds = moto.client("rds")
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    network = cidr.split("/", maxsplit=1)[0].rsplit(".", 2)[0]
    subnets, route_tables = [], []
    for i, zone in enumerate((f"{REGION}a", f"{REGION}b")):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{network}.{i * 16}.0/20", AvailabilityZone=zone)
        subnets.append(subnet["Subnet"]["SubnetId"])
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnets[-1])
        route_tables.append(table)
    group = ec2.create_security_group(GroupName=f"{name}-database", Description="app database", VpcId=vpc)
    rds.create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription="app database", SubnetIds=subnets
    )
    db = rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.r6g.large",
        Engine="postgres",
        EngineVersion="16.4",
        MasterUsername="app",
        MasterUserPassword="app-password",
        AllocatedStorage=100,
        DBSubnetGroupName=name,
        VpcSecurityGroupIds=[group["GroupId"]],
    )["DBInstance"]
    # What RDS publishes for it: the preflight measures the source's free storage (80 of 100 GiB).
    moto.client("cloudwatch").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "FreeStorageSpace",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": name}],
                "Value": 80 * 2**30,
                "Unit": "Bytes",
            }
        ],
    )
    return Production(vpc, cidr, tuple(route_tables), name, db["Endpoint"]["Address"])


# ------------------------------------------------------------------ terraform against the emulator


def _hcl(value: Any) -> str:
    """An HCL literal (JSON is valid HCL for strings, numbers, bools, lists and objects)."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_hcl(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def override_file(endpoint: str, module: str, arguments: Mapping[str, Any], pin_account: bool = True) -> str:
    """The override that points a root at the emulator. With `pin_account=False` the root keeps its
    own allowed_account_ids (from its tfvars), which the emulated account is not in."""
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    args = "\n".join(f"  {name} = {_hcl(value)}" for name, value in arguments.items())
    pin = f'  allowed_account_ids         = ["{ACCOUNT_ID}"]\n' if pin_account else ""
    return f"""# Written by tests/terraform/emulator.py: this root, applied against moto's server.
terraform {{
  backend "local" {{}}
}}

provider "aws" {{
{pin}  access_key                  = "{CREDENTIALS["AWS_ACCESS_KEY_ID"]}"
  secret_key                  = "{CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}

module "{module}" {{
{args}
}}
"""


@dataclass
class Step:
    what: str
    seconds: float
    ok: bool


@dataclass
class Workspace:
    """A copy of terraform/ whose roots are applied to one emulator."""

    terraform: str
    plugin_dir: Path
    base: Path
    moto: MotoServer
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.copy = self.base / "terraform"
        shutil.copytree(
            tooling.TERRAFORM_DIR,
            self.copy,
            ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.*"),
        )
        cli_config = self.base / "terraformrc"
        cli_config.write_text("")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))},
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }

    def root(self, root: str) -> Path:
        return self.copy / root

    def configure(
        self, root: str, module: str, arguments: Mapping[str, Any], pin_account: bool = True
    ) -> None:
        (self.root(root) / "emulator_override.tf").write_text(
            override_file(self.moto.endpoint, module, arguments, pin_account)
        )

    def run(self, root: str, *args: str, what: str | None = None, check: bool = True) -> tooling.Result:
        what = what or f"{root}: terraform {args[0]}"
        log = self.base / "logs" / f"{len(self.steps):02d}-{re.sub(r'[^a-z0-9]+', '-', what.lower())}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text(f"started {time.strftime('%H:%M:%S')}: {' '.join(args)}\n")
        result = tooling.run([self.terraform, *args, "-no-color"], self.root(root), self.env, timeout=900)
        log.write_text(result.describe())
        self.steps.append(Step(what, result.seconds, result.ok))
        if check and not result.ok:
            raise AssertionError(result.describe()[-6000:])
        return result

    def init(self, root: str) -> None:
        if not (self.root(root) / ".terraform").is_dir():
            self.run(root, "init", f"-plugin-dir={self.plugin_dir}", "-input=false")

    def apply(self, root: str, *args: str) -> None:
        self.init(root)
        self.run(root, "apply", "-auto-approve", "-input=false", *args)

    def destroy(self, root: str, *args: str) -> None:
        self.run(root, "destroy", "-auto-approve", "-input=false", *args)

    def plan(self, root: str, *args: str) -> dict[str, Any]:
        self.init(root)
        self.run(root, "plan", "-input=false", "-out=emulator.tfplan", *args, what=f"{root}: terraform plan")
        shown = self.run(root, "show", "-json", "emulator.tfplan", what=f"{root}: terraform show")
        return dict(json.loads(shown.output))

    def outputs(self, root: str) -> dict[str, Any]:
        shown = self.run(root, "output", "-json", what=f"{root}: terraform output")
        return {name: value["value"] for name, value in json.loads(shown.output).items()}

    def report(self) -> str:
        width = max((len(s.what) for s in self.steps), default=10)
        lines = [f"{s.what:<{width}}  {s.seconds:6.1f}s  {'ok' if s.ok else 'FAILED'}" for s in self.steps]
        total = sum(s.seconds for s in self.steps)
        return "\n".join([*lines, f"{'total':<{width}}  {total:6.1f}s"])


# ------------------------------------------------------------------ what the applied resources say


@dataclass(frozen=True)
class Health:
    part: str
    resource: str
    ok: bool
    detail: str


def _probe(part: str, resource: str, check: Callable[[], tuple[bool, str]]) -> Health:
    try:
        ok, detail = check()
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Health(part, resource, ok, detail)


def health(moto: MotoServer, env: Mapping[str, str]) -> list[Health]:
    """Each resource `ops_environment` names, asked whether it is there and usable (like
    `ops sandbox status` does for the local stack)."""
    ddb, ssm, sqs = moto.client("dynamodb"), moto.client("ssm"), moto.client("sqs")
    rds, dms, cloudwatch = moto.client("rds"), moto.client("dms"), moto.client("cloudwatch")

    def table(name: str) -> tuple[bool, str]:
        status = ddb.describe_table(TableName=name)["Table"]["TableStatus"]
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        pitr = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
        return status == "ACTIVE" and pitr == "ENABLED", f"{status}, PITR {pitr}"

    def flag() -> tuple[bool, str]:
        name = f"{env['OPS_FLAG_PREFIX']}/{env['OPS_DATASET']}/mode"
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        return value == "postgres", f"{name} = {value}"

    def queue(name: str) -> tuple[bool, str]:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])["Attributes"]
        return attributes.get("FifoQueue") == "true", url

    def instance() -> tuple[bool, str]:
        found = rds.describe_db_instances(DBInstanceIdentifier=env["OPS_V2_RDS_INSTANCE"])["DBInstances"][0]
        return found["DBInstanceStatus"] == "available", found["Endpoint"]["Address"]

    def replication() -> tuple[bool, str]:
        arn = env["OPS_DMS_TASK_ARN"]
        tasks = dms.describe_replication_tasks()["ReplicationTasks"]
        status = next(t["Status"] for t in tasks if t["ReplicationTaskArn"] == arn)
        return status == "ready", f"task {status}"

    def alarms() -> tuple[bool, str]:
        required = env["OPS_REQUIRED_ALARMS"].split(",")
        found = {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=required)["MetricAlarms"]}
        prefixed = all(name.startswith(env["OPS_ALARM_PREFIXES"]) for name in required)
        missing = sorted(set(required) - found)
        return not missing and prefixed, f"{len(found)}/{len(required)} required" + (
            f"; missing {', '.join(missing)}" if missing else ""
        )

    rows = [
        _probe("control table", env["OPS_CONTROL_TABLE"], lambda: table(env["OPS_CONTROL_TABLE"])),
        _probe("target table", env["OPS_TARGET_TABLE"], lambda: table(env["OPS_TARGET_TABLE"])),
        _probe("migration flag", env["OPS_FLAG_PREFIX"], flag),
        _probe(
            "notifications queue",
            env["OPS_NOTIFICATIONS_QUEUE"],
            lambda: queue(env["OPS_NOTIFICATIONS_QUEUE"]),
        ),
        _probe(
            "notifications DLQ", env["OPS_NOTIFICATIONS_DLQ"], lambda: queue(env["OPS_NOTIFICATIONS_DLQ"])
        ),
        _probe("V2 RDS instance", env["OPS_V2_RDS_INSTANCE"], instance),
        _probe("required alarms", env["OPS_ALARM_PREFIXES"], alarms),
        _probe(
            "receiver URL",
            env["NOTIFICATIONS_RECEIVER_URL"],
            lambda: (env["NOTIFICATIONS_RECEIVER_URL"].startswith(("http://", "https://")), "set"),
        ),
    ]
    if "OPS_DMS_TASK_ARN" in env:
        rows.append(_probe("DMS replication", env["OPS_DMS_TASK_ARN"], replication))
    return rows


def render_health(rows: list[Health]) -> str:
    table = Table(box=None)
    for column in ("part", "resource", "health", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.part, row.resource, "healthy" if row.ok else "UNHEALTHY", row.detail)
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


@dataclass(frozen=True)
class Leftovers:
    """What of one environment (by its name prefix) is still in the emulated account."""

    rds_instances: list[str]
    snapshots: list[str]
    tables: list[str]
    queues: list[str]
    secrets: list[str]
    secrets_in_recovery: list[str]


def leftovers(moto: MotoServer, prefix: str) -> Leftovers:
    rds, secrets = moto.client("rds"), moto.client("secretsmanager")
    listed = secrets.list_secrets(IncludePlannedDeletion=True)["SecretList"]
    queues = moto.client("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return Leftovers(
        rds_instances=sorted(
            i["DBInstanceIdentifier"]
            for i in rds.describe_db_instances()["DBInstances"]
            if i["DBInstanceIdentifier"].startswith(prefix)
        ),
        snapshots=sorted(
            s["DBSnapshotIdentifier"]
            for s in rds.describe_db_snapshots()["DBSnapshots"]
            if s["DBSnapshotIdentifier"].startswith(prefix)
        ),
        tables=sorted(t for t in moto.client("dynamodb").list_tables()["TableNames"] if t.startswith(prefix)),
        queues=sorted(queues),
        secrets=sorted(s["Name"] for s in listed if s["Name"].startswith(prefix) and "DeletedDate" not in s),
        secrets_in_recovery=sorted(
            s["Name"] for s in listed if s["Name"].startswith(prefix) and "DeletedDate" in s
        ),
    )
