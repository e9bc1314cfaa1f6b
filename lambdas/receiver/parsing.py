"""JSON from unauthenticated callers: an object, at most `MAX_DEPTH` levels deep, or a 400.

Python's parser raises RecursionError on deeply nested input (a 64 KiB body of `[` is enough),
which would otherwise surface as a 500 that Apple and Pub/Sub retry for days. Apple and Google
payloads are five levels deep at most.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.receiver.exceptions import MalformedRequest

MAX_DEPTH = 32


def json_object(raw: bytes | str, what: str, reason: str = "malformed_json") -> dict[str, Any]:
    """`raw` parsed as a JSON object; MalformedRequest(`reason`) naming `what` otherwise."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedRequest(reason, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedRequest(reason, f"{what} is not a JSON object")
    if _depth(value) > MAX_DEPTH:
        raise MalformedRequest(reason, f"{what} is nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (so no input can exhaust the stack here either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest
