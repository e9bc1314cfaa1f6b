"""DynamoDB tables the project creates: the migration target and the control table share a shape.

Both have `pk` (S) / `sk` (S) keys, on-demand capacity and TTL on `_ttl` (tombstones, leases).
Creation is idempotent and safe against a concurrent creator.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from ops import aws
from ops.exceptions import OpsError

TTL_ATTRIBUTE = "_ttl"
# The target table's stream feeds reverse replication (ops/reverse): each item's new image.
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
_WAIT_SECONDS = 60.0


def ensure_pk_sk_table(
    name: str, client: Any = None, *, ttl_attribute: str = TTL_ATTRIBUTE, stream: bool = False
) -> None:
    """Create `name` (pk/sk, on-demand, TTL; with `stream`, a NEW_IMAGE stream) unless it exists;
    wait until it is ACTIVE."""
    ddb = client or aws.client("dynamodb")
    extra: dict[str, Any] = {"StreamSpecification": STREAM} if stream else {}
    try:
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    _wait_active(ddb, name)
    _ensure_ttl(ddb, name, ttl_attribute)
    if stream:
        _ensure_stream(ddb, name)


def _ensure_stream(ddb: Any, name: str) -> None:
    spec = ddb.describe_table(TableName=name)["Table"].get("StreamSpecification") or {}
    if spec.get("StreamEnabled"):
        return
    ddb.update_table(TableName=name, StreamSpecification=STREAM)
    _wait_active(ddb, name)


def _wait_active(ddb: Any, name: str) -> None:
    deadline = time.monotonic() + _WAIT_SECONDS
    while True:
        status = ddb.describe_table(TableName=name)["Table"]["TableStatus"]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise OpsError(
                f"DynamoDB table {name} is still {status} after {_WAIT_SECONDS:.0f}s; check the console"
            )
        time.sleep(0.2)


def _ensure_ttl(ddb: Any, name: str, attribute: str) -> None:
    current = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    if (
        current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        and current.get("AttributeName") == attribute
    ):
        return
    try:
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
    except ClientError as exc:
        # A concurrent ensure() already enabled it.
        if "already enabled" not in str(exc).lower():
            raise


def ensure_target_table(name: str, client: Any = None) -> None:
    """The migration's target table (`Settings.target_table`), with its stream."""
    ensure_pk_sk_table(name, client, stream=True)
