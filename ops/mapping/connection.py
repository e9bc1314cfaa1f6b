"""psycopg connection setup every reader of mapped rows uses, so jsonb numbers stay exact."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import set_json_loads

from ops.mapping.codec import json_loads


def configure_connection(conn: Any) -> None:
    """Load json/jsonb with floats as Decimal on this connection (psycopg's default is float).

    Pass it as `configure=` to a psycopg_pool pool, or call it on a fresh connection, before
    reading rows that will be encoded.
    """
    set_json_loads(json_loads, conn)
