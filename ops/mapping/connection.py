"""psycopg connection setup every reader of mapped rows uses, so jsonb numbers stay exact."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import set_json_dumps, set_json_loads

from ops.mapping.codec import json_dumps, json_loads


def configure_connection(conn: Any) -> None:
    """Load json/jsonb with floats as Decimal, and dump Decimal as exact JSON numbers.

    psycopg's defaults load JSON numbers as float and cannot dump Decimal at all.
    Pass it as `configure=` to a psycopg_pool pool, or call it on a fresh connection, before
    reading rows that will be encoded.
    """
    set_json_loads(json_loads, conn)
    set_json_dumps(json_dumps, conn)
