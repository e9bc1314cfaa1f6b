"""DynamoDB side of verification: consistent batch reads, segmented Scan, conditional repairs."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from ops.mapping import DELETED_ATTRIBUTE, TTL_ATTRIBUTE, VERSION_ATTRIBUTE

BATCH_GET_LIMIT = 100
ItemKey = tuple[str, str]
# Repair may replace an item of the same version (drifted content), never a newer one.
REPAIR_CONDITION = "attribute_not_exists(pk) OR #v <= :v"


def item_key(item: dict[str, Any]) -> ItemKey:
    return (item["pk"]["S"], item["sk"]["S"])


class ItemStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def batch_get(self, keys: Sequence[dict[str, Any]]) -> dict[ItemKey, dict[str, Any]]:
        """Strongly consistent reads of many items; unprocessed keys are retried with backoff."""
        unique = {item_key(k): {"pk": k["pk"], "sk": k["sk"]} for k in keys}
        pending = list(unique.values())
        found: dict[ItemKey, dict[str, Any]] = {}
        while pending:
            chunk, pending = pending[:BATCH_GET_LIMIT], pending[BATCH_GET_LIMIT:]
            attempt = 0
            request: dict[str, Any] = {self.table: {"Keys": chunk, "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item_key(item)] = item
                request = response.get("UnprocessedKeys") or {}
                if request:
                    attempt += 1
                    time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())  # noqa: S311 - jitter
        return found

    def scan(
        self, segment: int, total_segments: int, start_key: dict[str, Any] | None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
        """Pages of one Scan segment: only the key, version and delete marker are read."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Segment": segment,
            "TotalSegments": total_segments,
            "ConsistentRead": True,
            "ProjectionExpression": "pk, sk, #v, #d",
            "ExpressionAttributeNames": {"#v": VERSION_ATTRIBUTE, "#d": DELETED_ATTRIBUTE},
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        while True:
            response = self.client.scan(**kwargs)
            last = response.get("LastEvaluatedKey")
            yield response.get("Items", []), last
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def put_unless_newer(self, item: dict[str, Any]) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=REPAIR_CONDITION,
                ExpressionAttributeNames={"#v": VERSION_ATTRIBUTE},
                ExpressionAttributeValues={":v": item[VERSION_ATTRIBUTE]},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def tombstone_unless_changed(self, item: dict[str, Any], ttl_epoch: int) -> bool:
        """Replace an item that has no row with a tombstone of the same version (not a delete, so
        a backfill still running cannot resurrect it), unless it changed since it was read."""
        version = item.get(VERSION_ATTRIBUTE)
        tombstone = {
            "pk": item["pk"],
            "sk": item["sk"],
            DELETED_ATTRIBUTE: {"BOOL": True},
            VERSION_ATTRIBUTE: version or {"N": "0"},
            TTL_ATTRIBUTE: {"N": str(int(ttl_epoch))},
        }
        condition: dict[str, Any] = (
            {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": VERSION_ATTRIBUTE},
                "ExpressionAttributeValues": {":v": version},
            }
            if version
            else {
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#v)",
                "ExpressionAttributeNames": {"#v": VERSION_ATTRIBUTE},
            }
        )
        try:
            self.client.put_item(TableName=self.table, Item=tombstone, **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
