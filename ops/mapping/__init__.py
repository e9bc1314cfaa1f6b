"""One row-to-item mapping for dual-write, backfill, verification and repair.

`load_mapping(path)` reads a mapping file (the packaged `mapping.yaml` unless the settings'
`mapping_file`, from OPS_MAPPING_FILE, names another); each `TableMapping` encodes rows
to DynamoDB items, decodes them back, gives the canonical comparison form and the item size, and
builds tombstones. The encoding of every type is documented in `ops/mapping/README.md`.
"""

from ops.mapping.codec import json_dumps, json_loads
from ops.mapping.connection import configure_connection
from ops.mapping.errors import RowError
from ops.mapping.keys import ItemKeyParser
from ops.mapping.model import (
    DELETED_ATTRIBUTE,
    RESERVED_ATTRIBUTES,
    TTL_ATTRIBUTE,
    VERSION_ATTRIBUTE,
    Mapping,
    TableMapping,
    is_tombstone,
    load_mapping,
    parse_mapping,
)

__all__ = [
    "DELETED_ATTRIBUTE",
    "RESERVED_ATTRIBUTES",
    "TTL_ATTRIBUTE",
    "VERSION_ATTRIBUTE",
    "ItemKeyParser",
    "Mapping",
    "RowError",
    "TableMapping",
    "configure_connection",
    "is_tombstone",
    "json_dumps",
    "json_loads",
    "load_mapping",
    "parse_mapping",
]
