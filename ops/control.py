"""The DynamoDB control table: flag history, backfill checkpoints, leases, verification evidence, ledger.

Callers use plain Python values; numbers come back as `int` when integral, else `Decimal`
(floats are stored exactly through `repr`). Key layout (pk prefixes): `FLAG#<dataset>`,
`BACKFILL#<run>`, `LEASE#<name>`, `VERIFY#<dataset>`, `LEDGER#<dataset>`, `REPLICA#<dataset>`,
`SHADOW#<dataset>` (the application's shadow-read log, `ops.dualwrite.shadow_log`).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ops import aws
from ops.exceptions import OpsError
from ops.tables import ensure_pk_sk_table

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
LEASE_SK = "LEASE"


class ConditionFailed(OpsError):
    """A conditional write to the control table was refused (someone else changed the item)."""


def _plain_in(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _plain_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_in(v) for v in value]
    return value


def _plain_out(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain_out(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_out(v) for v in value]
    if isinstance(value, set):
        return {_plain_out(v) for v in value}
    return value


def to_wire(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_plain_in(v)) for k, v in attrs.items()}


def from_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain_out(_deserializer.deserialize(v)) for k, v in item.items()}


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class ControlTable:
    """Typed access to the control table (see module docstring for the key layout)."""

    def __init__(self, name: str, client: Any = None) -> None:
        self.name = name
        self.client = client or aws.client("dynamodb")

    def ensure(self) -> None:
        ensure_pk_sk_table(self.name, self.client)

    def exists(self) -> bool:
        try:
            self.client.describe_table(TableName=self.name)
        except self.client.exceptions.ResourceNotFoundException:
            return False
        return True

    def _conditional(self, call: Any, what: str, **kwargs: Any) -> Any:
        try:
            return call(TableName=self.name, **kwargs)
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise ConditionFailed(
                    f"control table {self.name}: {what} refused by its condition (the item changed "
                    "concurrently); re-read it and retry"
                ) from exc
            raise

    @staticmethod
    def _expression_args(
        condition: str | None, names: dict[str, str] | None, values: dict[str, Any] | None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if values:
            kwargs["ExpressionAttributeValues"] = to_wire(values)
        return kwargs

    def put(
        self,
        pk: str,
        sk: str,
        attrs: dict[str, Any],
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        item = to_wire({**attrs, "pk": pk, "sk": sk})
        self._conditional(
            self.client.put_item,
            f"put {pk}/{sk}",
            Item=item,
            **self._expression_args(condition, names, values),
        )

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item = response.get("Item")
        return from_wire(item) if item else None

    def query(
        self, pk: str, sk_prefix: str = "", *, sk_between: tuple[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of `pk`, optionally only those whose sk starts with `sk_prefix` or lies
        between the two values of `sk_between` (inclusive), in sk order."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        if sk_prefix:
            kwargs["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            kwargs["ExpressionAttributeValues"][":prefix"] = {"S": sk_prefix}
        if sk_between:
            kwargs["KeyConditionExpression"] += " AND sk BETWEEN :low AND :high"
            kwargs["ExpressionAttributeValues"][":low"] = {"S": sk_between[0]}
            kwargs["ExpressionAttributeValues"][":high"] = {"S": sk_between[1]}
        out: list[dict[str, Any]] = []
        while True:
            response = self.client.query(**kwargs)
            out.extend(from_wire(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return out
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def update(
        self,
        pk: str,
        sk: str,
        set_: dict[str, Any] | None = None,
        add: dict[str, int | float] | None = None,
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """SET and ADD attributes in one request; returns the whole item after the update."""
        all_names = dict(names or {})
        all_values = dict(values or {})
        clauses: list[str] = []
        for action, tag, separator, attributes in (("SET", "s", " = ", set_), ("ADD", "a", " ", add)):
            if not attributes:
                continue
            parts = []
            for i, (attr, value) in enumerate(attributes.items()):
                all_names[f"#{tag}{i}"] = attr
                all_values[f":{tag}{i}"] = value
                parts.append(f"#{tag}{i}{separator}:{tag}{i}")
            clauses.append(f"{action} " + ", ".join(parts))
        if not clauses:
            raise ValueError("update() needs set_ or add")
        response = self._conditional(
            self.client.update_item,
            f"update {pk}/{sk}",
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression=" ".join(clauses),
            ReturnValues="ALL_NEW",
            **self._expression_args(condition, all_names, all_values),
        )
        return from_wire(response.get("Attributes", {}))

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        self._conditional(
            self.client.delete_item,
            f"delete {pk}/{sk}",
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            **self._expression_args(condition, names, values),
        )

    # ------------------------------------------------------------ leases

    def acquire_lease(self, name: str, owner: str, ttl_seconds: int) -> bool:
        """Take the lease if it is free, expired, or already ours; False if someone else holds it."""
        now = time.time()
        try:
            self.put(
                f"LEASE#{name}",
                LEASE_SK,
                {
                    "owner": owner,
                    "expires_at": now + ttl_seconds,
                    "acquired_at": now,
                    "_ttl": int(now + ttl_seconds) + 3600,
                },
                condition="attribute_not_exists(pk) OR expires_at < :now OR #owner = :owner",
                names={"#owner": "owner"},
                values={":now": now, ":owner": owner},
            )
        except ConditionFailed:
            return False
        return True

    def renew_lease(self, name: str, owner: str, ttl_seconds: int) -> bool:
        """Extend our lease; False if it was taken over (then stop working on what it guards)."""
        now = time.time()
        try:
            self.update(
                f"LEASE#{name}",
                LEASE_SK,
                set_={"expires_at": now + ttl_seconds, "_ttl": int(now + ttl_seconds) + 3600},
                condition="#owner = :owner",
                names={"#owner": "owner"},
                values={":owner": owner},
            )
        except ConditionFailed:
            return False
        return True

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up; a lease already taken over by someone else is left alone."""
        try:
            self.delete(
                f"LEASE#{name}",
                LEASE_SK,
                condition="#owner = :owner",
                names={"#owner": "owner"},
                values={":owner": owner},
            )
        except ConditionFailed:
            return
