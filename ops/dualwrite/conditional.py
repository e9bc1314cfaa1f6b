"""The version-conditioned put: the one rule every writer that copies PostgreSQL into DynamoDB obeys.

`attribute_not_exists(pk) OR _ver < :v` — an item is only ever replaced by a newer version of
itself. Versions carry the flag's generation in their high bits (`ops.flags.compose_version`), so
the rule also keeps a write made under an older flag (a stale application instance, an outbox row
drained late, a repair from a lagging replica) from replacing one made under a newer flag.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ops.mapping import VERSION_ATTRIBUTE

VERSION_CONDITION = "attribute_not_exists(pk) OR #v < :v"


def is_condition_failure(exc: Exception) -> bool:
    return (
        isinstance(exc, ClientError)
        and exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )


def conditional_put(ddb: Any, table: str, item: dict[str, Any]) -> bool:
    """Put a whole item unless DynamoDB holds the same or a newer version. True if it was written."""
    try:
        ddb.put_item(
            TableName=table,
            Item=item,
            ConditionExpression=VERSION_CONDITION,
            ExpressionAttributeNames={"#v": VERSION_ATTRIBUTE},
            ExpressionAttributeValues={":v": item[VERSION_ATTRIBUTE]},
        )
    except ClientError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
