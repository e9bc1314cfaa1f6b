"""Names and endpoints every part of the project reads, from one place.

The same names are created by Terraform (`terraform/envs/*` outputs) and read here from the
environment, so the ops CLI, the Lambdas and the infrastructure agree. Defaults are the names
the local stack uses; on AWS, set the variables from `terraform output`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ops.exceptions import ConfigError

# Tombstones outlive every way a deleted row could come back: the backfill reading a lagging
# replica, a verification repair, a late outbox drain. 30 days covers a two-week soak plus the copy
# and verification with room to spare; the cutover's gates check it against the real timeline.
DEFAULT_TOMBSTONE_TTL_SECONDS = 30 * 24 * 3600

# Environment variable -> default. The contract test in tests/ compares these names with
# what Terraform creates and outputs.
ENV_DEFAULTS: dict[str, str] = {
    "OPS_CONTROL_TABLE": "platform-ops-control",
    "OPS_TARGET_TABLE": "couple-diary",
    "OPS_DATASET": "answers",
    "OPS_FLAG_PREFIX": "/platform-ops/migration",
    "OPS_NOTIFICATIONS_QUEUE": "subscription-notifications.fifo",
    "OPS_NOTIFICATIONS_DLQ": "subscription-notifications-dlq.fifo",
    "OPS_METRICS_NAMESPACE": "PlatformOps/Migration",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def env(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Value of a project setting: the environment, else the local-stack default."""
    environ = os.environ if environ is None else environ
    if name in ENV_DEFAULTS:
        return environ.get(name) or ENV_DEFAULTS[name]
    return environ[name]


def _env_seconds(name: str, default: int, environ: Mapping[str, str]) -> int:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        return int(float(raw))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds; set a number or unset it") from None


@dataclass(frozen=True)
class Settings:
    """Built once at the edge (`ops.cli.common.current_settings` for the CLI) and passed down: the
    modules below the CLI take these values from their caller."""

    control_table: str
    target_table: str
    dataset: str
    flag_prefix: str
    notifications_queue: str
    notifications_dlq: str
    metrics_namespace: str
    region: str
    prod_database_url: str | None
    v2_database_url: str | None
    tombstone_ttl_seconds: int = DEFAULT_TOMBSTONE_TTL_SECONDS
    # Reverse replication (DynamoDB -> PostgreSQL after stop-pg-writes): `local` runs the stream
    # poller as a process of its own (logging into reverse_log_dir); `lambda` switches the reverse
    # Lambda's event source mapping (both from `terraform output -json ops_environment`).
    reverse_driver: str = "local"
    reverse_mapping_uuid: str | None = None
    reverse_function: str | None = None
    reverse_log_dir: Path = Path(".sandbox/logs")
    # The mapping every part loads (`load_mapping(settings.mapping_file)`); None: the one that ships
    # in the package (`ops/mapping/mapping.yaml`).
    mapping_file: Path | None = None
    # Who the flag history and the cutover ledger name for this process's changes (OPS_OPERATOR);
    # None: the CLI asks AWS who the caller is (`ops.migrate.identity.operator_identity`).
    operator: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """From this process's environment (the CLI's edge; a Lambda's container start)."""
        return cls.from_mapping(os.environ)

    @classmethod
    def from_mapping(cls, environ: Mapping[str, str]) -> Settings:
        """From the variables of an environment that is not (or not only) this process's: the local
        stack the demo starts, a second environment in one process, a test."""
        return cls(
            control_table=env("OPS_CONTROL_TABLE", environ),
            target_table=env("OPS_TARGET_TABLE", environ),
            dataset=env("OPS_DATASET", environ),
            flag_prefix=env("OPS_FLAG_PREFIX", environ).rstrip("/"),
            notifications_queue=env("OPS_NOTIFICATIONS_QUEUE", environ),
            notifications_dlq=env("OPS_NOTIFICATIONS_DLQ", environ),
            metrics_namespace=env("OPS_METRICS_NAMESPACE", environ),
            region=environ.get("AWS_REGION") or env("AWS_DEFAULT_REGION", environ),
            prod_database_url=environ.get("PROD_DATABASE_URL"),
            v2_database_url=environ.get("V2_DATABASE_URL"),
            tombstone_ttl_seconds=_env_seconds(
                "OPS_TOMBSTONE_TTL_SECONDS", DEFAULT_TOMBSTONE_TTL_SECONDS, environ
            ),
            reverse_driver=environ.get("OPS_REVERSE_DRIVER") or "local",
            reverse_mapping_uuid=environ.get("OPS_REVERSE_MAPPING_UUID") or None,
            reverse_function=environ.get("OPS_REVERSE_FUNCTION") or None,
            reverse_log_dir=Path(environ.get("OPS_REVERSE_LOG_DIR") or ".sandbox/logs"),
            mapping_file=Path(environ["OPS_MAPPING_FILE"]) if environ.get("OPS_MAPPING_FILE") else None,
            operator=environ.get("OPS_OPERATOR") or None,
        )

    def flag_parameter(self, dataset: str | None = None) -> str:
        """SSM parameter holding the migration mode of one dataset."""
        return f"{self.flag_prefix}/{dataset or self.dataset}/mode"


def redact_url(url: str | None) -> str:
    """A database URL fit for messages and logs: the password replaced by ***, "unset" for None."""
    if not url:
        return "unset"
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
