"""psycopg connection setup every reader of mapped rows uses: exact jsonb numbers, the JSON
document `null` kept apart from SQL NULL, and values Python cannot hold loaded as markers."""

from __future__ import annotations

import struct
from typing import Any

import psycopg.postgres
from psycopg import DataError
from psycopg.adapt import Buffer, Loader
from psycopg.types.json import set_json_dumps, set_json_loads

from ops.mapping.codec import Unloadable, json_dumps, jsonb_loads

# Binary forms of +-infinity: int64 microseconds for timestamps, int32 days for dates.
_BINARY_SPECIAL = {
    8: {struct.pack("!q", 2**63 - 1): "infinity", struct.pack("!q", -(2**63)): "-infinity"},
    4: {struct.pack("!i", 2**31 - 1): "infinity", struct.pack("!i", -(2**31)): "-infinity"},
}
_TOLERANT_TYPES = ("timestamptz", "timestamp", "date")


def _describe(data: Buffer, binary: bool) -> str:
    raw = bytes(data)
    if not binary:
        return raw.decode("ascii", "replace")
    return _BINARY_SPECIAL.get(len(raw), {}).get(raw, "a value out of Python's range")


def _tolerant_loader(type_name: str, base: type[Loader], binary: bool) -> type[Loader]:
    """`base` (psycopg's C loader, which cannot be subclassed) wrapped so that a value it cannot
    load becomes `Unloadable` instead of failing the whole result set."""

    class TolerantLoader(Loader):
        format = base.format

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._load = base(oid, context).load

        def load(self, data: Buffer) -> Any:
            try:
                return self._load(data)
            except DataError:
                return Unloadable(type_name, _describe(data, binary))

    TolerantLoader.__name__ = f"Tolerant{base.__name__}"
    return TolerantLoader


def configure_connection(conn: Any) -> None:
    """Set up a connection (sync or async) before reading rows that will be encoded.

    - json/jsonb load with floats as Decimal and dump Decimal exactly (psycopg's defaults load
      JSON numbers as float and cannot dump Decimal at all); a column holding the JSON document
      `null` loads as `JSON_NULL`, not None (which is SQL NULL).
    - timestamptz, timestamp and date values Python cannot represent (`infinity`, years past
      9999) load as `Unloadable`, which the codec turns into a per-row error.
    Pass it as `configure=` to a psycopg_pool pool, or call it on a fresh connection.
    """
    set_json_loads(jsonb_loads, conn)
    set_json_dumps(json_dumps, conn)
    for type_name in _TOLERANT_TYPES:
        oid = psycopg.postgres.types[type_name].oid
        for fmt in (psycopg.pq.Format.TEXT, psycopg.pq.Format.BINARY):
            base = conn.adapters.get_loader(oid, fmt)
            if base is not None and not getattr(base, "__name__", "").startswith("Tolerant"):
                binary = fmt == psycopg.pq.Format.BINARY
                conn.adapters.register_loader(oid, _tolerant_loader(type_name, base, binary))
