"""The declarative mapping (mapping.yaml) and the per-table encoder built from it."""

from __future__ import annotations

import hashlib
import json
import string
import uuid
from collections.abc import Callable, Sequence
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ops.exceptions import ConfigError
from ops.mapping import codec
from ops.mapping.errors import RowError, ValueProblem

RESERVED_ATTRIBUTES = frozenset({"pk", "sk", "_ver", "_deleted", "_ttl"})
VERSION_ATTRIBUTE = "_ver"
DELETED_ATTRIBUTE = "_deleted"
TTL_ATTRIBUTE = "_ttl"
NULL_POLICIES = ("omit", "null")
_TABLE_FIELDS = {"key_columns", "version_column", "updated_column", "pk", "sk", "nulls", "columns"}
_COLUMN_FIELDS = {"type", "attribute"}
_INTEGER_TYPES = ("smallint", "integer", "bigint")
_NON_KEY_TYPES = ("jsonb", "json", "bytea", "bool", "real", "double")


def is_tombstone(item: AbcMapping[str, Any] | None) -> bool:
    """True for a delete marker, given a wire item or its canonical form."""
    if not item:
        return False
    flag = item.get(DELETED_ATTRIBUTE)
    return flag is True or flag == {"BOOL": True}


def _key_text(value: Any) -> str:
    if value is None:
        raise ValueProblem("key column is NULL; DynamoDB keys cannot be empty")
    if isinstance(value, bool):
        raise ValueProblem("a boolean cannot be part of a key")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if value == "":
            raise ValueProblem("empty string in a key; DynamoDB key attributes cannot be empty")
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return codec.format_timestamptz(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return codec.number_text(value)
    if isinstance(value, codec.Unloadable):
        raise value.problem()
    raise ValueProblem(f"a {type(value).__name__} cannot be part of a key")


@dataclass(frozen=True)
class _Template:
    text: str
    parts: tuple[tuple[str, str | None], ...]  # (literal, column or None)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for _, c in self.parts if c)

    @property
    def prefix(self) -> str:
        """Literal text before the first placeholder (a begins_with() prefix for queries)."""
        out = ""
        for literal, column in self.parts:
            out += literal
            if column:
                break
        return out

    def render(self, row: AbcMapping[str, Any]) -> str:
        pieces: list[str] = []
        for literal, column in self.parts:
            pieces.append(literal)
            if column:
                pieces.append(_key_text(row[column]))
        return "".join(pieces)


@dataclass
class TableMapping:
    """How one PostgreSQL table becomes DynamoDB items (see ops/mapping/README.md)."""

    table: str
    key_columns: tuple[str, ...]
    version_column: str
    pk_template: str
    sk_template: str
    column_types: dict[str, str]
    attributes: dict[str, str]
    updated_column: str | None = None
    nulls: str = "omit"
    _pk: _Template = field(init=False, repr=False)
    _sk: _Template = field(init=False, repr=False)
    _plan: list[tuple[str, str, codec.Encoder]] = field(init=False, repr=False)
    _decoders: list[tuple[str, str, codec.Decoder]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pk = _parse_template(self.pk_template)
        self._sk = _parse_template(self.sk_template)
        self._plan = [(c, self.attributes[c], codec.encoder_for(t)) for c, t in self.column_types.items()]
        self._decoders = [(c, self.attributes[c], codec.decoder_for(t)) for c, t in self.column_types.items()]

    # ------------------------------------------------------------ shape

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.column_types)

    @property
    def item_key_columns(self) -> tuple[str, ...]:
        """Columns the DynamoDB key is built from (pk then sk placeholders): the item's identity."""
        seen: dict[str, None] = {}
        for column in (*self._pk.columns, *self._sk.columns):
            seen.setdefault(column)
        return tuple(seen)

    @property
    def partition_columns(self) -> tuple[str, ...]:
        return self._pk.columns

    @property
    def sk_prefix(self) -> str:
        return self._sk.prefix

    def sql_type(self, column: str) -> str:
        return codec.sql_type(self.column_types[column])

    def row_key(self, row: AbcMapping[str, Any]) -> dict[str, Any]:
        return {k: row.get(k) for k in self.key_columns}

    def partition_key(self, values: AbcMapping[str, Any]) -> str:
        try:
            return self._pk.render(values)
        except (KeyError, ValueProblem) as exc:
            raise RowError(self.table, dict(values), None, str(exc)) from exc

    # ------------------------------------------------------------ encoding

    def _error(self, row: AbcMapping[str, Any], column: str | None, reason: str) -> RowError:
        return RowError(self.table, self.row_key(row), column, reason)

    def key(self, row: AbcMapping[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, template, limit in (
            ("pk", self._pk, codec.MAX_PK_BYTES),
            ("sk", self._sk, codec.MAX_SK_BYTES),
        ):
            column = None
            try:
                pieces: list[str] = []
                for literal, column in template.parts:
                    pieces.append(literal)
                    if column:
                        value = row[column]
                        kind = type(value)
                        if kind is int:
                            pieces.append(str(value))
                        elif kind is str and value:
                            pieces.append(value)
                        else:
                            pieces.append(_key_text(value))
                text = "".join(pieces)
            except KeyError as exc:
                raise self._error(row, column, "column missing from the row (SELECT it)") from exc
            except ValueProblem as exc:
                raise self._error(row, column, str(exc)) from exc
            if not text:
                raise self._error(row, None, f"{name} renders to an empty string")
            if (len(text) if text.isascii() else len(text.encode("utf-8"))) > limit:
                raise self._error(row, None, f"{name} is longer than DynamoDB's {limit} bytes")
            out[name] = {"S": text}
        return out

    def encode(self, row: AbcMapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The whole DynamoDB item for a row, or RowError(table, key, column, reason)."""
        item = self._item(row)
        self._check_size(row, item, len(codec.wire_json(item)))
        return item

    def encode_json(self, row: AbcMapping[str, Any]) -> bytes:
        """The row's item as DynamoDB JSON (`codec.wire_json`), or RowError, for writers that send
        JSON themselves. The text's length bounds the item's size, so the 400 KB check needs no
        second serialization; only an item whose text is over the limit is measured exactly."""
        item = self._item(row)
        text = codec.wire_json(item)
        self._check_size(row, item, len(text))
        return text

    def _check_size(self, row: AbcMapping[str, Any], item: dict[str, dict[str, Any]], bound: int) -> None:
        """RowError if the item is over 400 KB; `bound` (its wire JSON's length) is checked first,
        the exact DynamoDB size only when the bound is over the limit."""
        if bound > codec.MAX_ITEM_BYTES:
            fits, size = codec.fits_item_limit(item)
            if not fits:
                raise self._too_large(row, item, size)

    def tuple_json_encoder(self, columns: Sequence[str]) -> Callable[[Sequence[Any]], bytes]:
        """`encode_json` for rows given as tuples in `columns` order (as a cursor returns them).

        The same bytes, without a dict per row and with integers and text encoded inline: the
        backfill's hottest loop. Anything the fast path does not handle plainly (a key value that
        is not an int or non-empty ASCII text, any encoding problem, an item near the size limit)
        goes through `encode_json`, so the result or the RowError is exactly the same.
        """
        at = {c: i for i, c in enumerate(columns)}
        missing = [c for c in self.column_types if c not in at]
        if missing:
            raise ConfigError(f"{self.table}: columns {missing} are mapped but not among {list(columns)}")
        names = tuple(columns)
        pk_parts = tuple((literal, at[c] if c else -1) for literal, c in self._pk.parts)
        sk_parts = tuple((literal, at[c] if c else -1) for literal, c in self._sk.parts)
        plan = tuple(
            (at[c], attribute, _FAST_KINDS.get(self.column_types[c], 0), encode)
            for c, attribute, encode in self._plan
        )
        version_at = at[self.version_column]
        version_attribute = self.attributes[self.version_column]
        keep_nulls = self.nulls == "null"
        exact = self.encode_json
        wire_json = codec.wire_json
        max_item = codec.MAX_ITEM_BYTES
        int_limit = codec.INT_FAST_LIMIT

        def key_text(parts: tuple[tuple[str, int], ...], values: Sequence[Any], limit: int) -> str | None:
            pieces = []
            for literal, index in parts:
                pieces.append(literal)
                if index >= 0:
                    value = values[index]
                    kind = type(value)
                    if kind is int:
                        pieces.append(str(value))
                    elif kind is str and value:
                        pieces.append(value)
                    else:
                        return None
            text = "".join(pieces)
            return text if text and len(text) <= limit and text.isascii() else None

        def encode(values: Sequence[Any]) -> bytes:
            pk = key_text(pk_parts, values, codec.MAX_PK_BYTES)
            sk = key_text(sk_parts, values, codec.MAX_SK_BYTES)
            version = values[version_at]
            if pk is None or sk is None or version is None:
                return exact(dict(zip(names, values, strict=True)))
            item: dict[str, dict[str, Any]] = {"pk": {"S": pk}, "sk": {"S": sk}}
            try:
                for index, attribute, kind, column_encode in plan:
                    value = values[index]
                    if value is None:
                        if keep_nulls:
                            item[attribute] = {"NULL": True}
                    elif kind == _INT and type(value) is int and -int_limit < value < int_limit:
                        item[attribute] = {"N": str(value)}
                    elif kind == _TEXT and type(value) is str:
                        item[attribute] = {"S": value}
                    else:
                        item[attribute] = column_encode(value)
            except ValueProblem:
                return exact(dict(zip(names, values, strict=True)))
            item[VERSION_ATTRIBUTE] = item.get(version_attribute) or {"N": str(version)}
            text = wire_json(item)
            if len(text) > max_item:
                return exact(dict(zip(names, values, strict=True)))
            return text

        return encode

    def _item(self, row: AbcMapping[str, Any]) -> dict[str, dict[str, Any]]:
        item = self.key(row)
        keep_nulls = self.nulls == "null"
        for column, attribute, encode in self._plan:
            try:
                value = row[column]
            except KeyError as exc:
                raise self._error(row, column, "column missing from the row (SELECT it)") from exc
            if value is None:
                if keep_nulls:
                    item[attribute] = {"NULL": True}
                continue
            try:
                item[attribute] = encode(value)
            except ValueProblem as exc:
                raise self._error(row, column, str(exc)) from exc
        version = row.get(self.version_column)
        if version is None:
            raise self._error(row, self.version_column, "version column is NULL")
        item[VERSION_ATTRIBUTE] = item.get(self.attributes[self.version_column]) or {"N": str(version)}
        return item

    def _too_large(self, row: AbcMapping[str, Any], item: dict[str, dict[str, Any]], size: int) -> RowError:
        largest = max(
            (a for a in item if a not in RESERVED_ATTRIBUTES), key=lambda a: codec.value_size(item[a])
        )
        return self._error(
            row,
            None,
            f"item is {size} bytes, over DynamoDB's {codec.MAX_ITEM_BYTES}-byte (400 KB) limit "
            f"(largest attribute: {largest!r})",
        )

    def decode(self, item: AbcMapping[str, dict[str, Any]]) -> dict[str, Any]:
        """Row values back from an item (the inverse of encode; omitted attributes are NULL)."""
        row: dict[str, Any] = {}
        json_nulls = self.nulls == "omit"
        for column, attribute, decode in self._decoders:
            wire = item.get(attribute)
            if wire is None:
                row[column] = None
            elif "NULL" in wire:
                # With `nulls: omit` a NULL attribute can only be a JSON document `null`.
                json_null = json_nulls and self.column_types[column] in ("jsonb", "json")
                row[column] = codec.JSON_NULL if json_null else None
            else:
                row[column] = decode(wire)
        return row

    # ------------------------------------------------------------ comparison

    def canonical(self, item: AbcMapping[str, dict[str, Any]]) -> dict[str, Any]:
        return codec.canonical_item(dict(item))

    def canonical_row(self, row: AbcMapping[str, Any]) -> dict[str, Any]:
        return codec.canonical_item(self.encode(row))

    def diff(
        self,
        expected_item: AbcMapping[str, dict[str, Any]] | None,
        actual_item: AbcMapping[str, dict[str, Any]] | None,
    ) -> dict[str, tuple[Any, Any]]:
        """Attributes whose canonical values differ; a missing attribute (or item) shows as None."""
        expected = self.canonical(expected_item or {})
        actual = self.canonical(actual_item or {})
        out: dict[str, tuple[Any, Any]] = {}
        for name in sorted(expected.keys() | actual.keys()):
            a, b = expected.get(name), actual.get(name)
            if name not in expected or name not in actual or not codec.same(a, b):
                out[name] = (a, b)
        return out

    def item_size(self, item: AbcMapping[str, dict[str, Any]]) -> int:
        return codec.item_size(dict(item))

    # ------------------------------------------------------------ deletes

    def tombstone(
        self, row_or_key: AbcMapping[str, Any], version: int, ttl_epoch: int | float
    ) -> dict[str, dict[str, Any]]:
        """Delete marker for an item: its key, `_deleted`, `_ver` and `_ttl` (epoch seconds)."""
        if isinstance(row_or_key.get("pk"), dict) and "S" in row_or_key["pk"]:
            key = {"pk": dict(row_or_key["pk"]), "sk": dict(row_or_key["sk"])}
        else:
            key = self.key(row_or_key)
        return {
            **key,
            DELETED_ATTRIBUTE: {"BOOL": True},
            VERSION_ATTRIBUTE: {"N": str(int(version))},
            TTL_ATTRIBUTE: {"N": str(int(ttl_epoch))},
        }

    @staticmethod
    def is_tombstone(item: AbcMapping[str, Any] | None) -> bool:
        return is_tombstone(item)

    def normalized(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key_columns": list(self.key_columns),
            "version_column": self.version_column,
            "updated_column": self.updated_column,
            "pk": self.pk_template,
            "sk": self.sk_template,
            "nulls": self.nulls,
            "columns": [[c, self.column_types[c], self.attributes[c]] for c in self.column_types],
        }


_INT, _TEXT = 1, 2
_FAST_KINDS = {"smallint": _INT, "integer": _INT, "bigint": _INT, "text": _TEXT}


def _parse_template(text: str) -> _Template:
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None and (spec or conversion):
            raise ValueError(f"placeholder {{{name}}} must not use a format spec or conversion")
        if name == "" or (name is not None and not name.isidentifier()):
            raise ValueError(f"placeholder {{{name}}} must name a column")
        parts.append((literal, name))
    return _Template(text, tuple(parts))


@dataclass
class Mapping:
    tables: dict[str, TableMapping]
    source: str = "<memory>"

    def table(self, name: str) -> TableMapping:
        try:
            return self.tables[name]
        except KeyError:
            known = ", ".join(sorted(self.tables))
            raise ConfigError(
                f"{self.source}: no mapping for table {name!r}; mapped tables: {known}"
            ) from None

    def fingerprint(self) -> str:
        normalized = [self.tables[t].normalized() for t in sorted(self.tables)]
        return hashlib.sha256(json.dumps(normalized, sort_keys=True).encode()).hexdigest()


def default_mapping_path() -> Path:
    """The mapping that ships in the package."""
    return Path(str(resources.files("ops.mapping").joinpath("mapping.yaml")))


def load_mapping(path: str | Path | None = None) -> Mapping:
    """Read and validate a mapping file (None: the packaged one; the CLI passes the settings'
    `mapping_file`, from OPS_MAPPING_FILE); errors name the file, table, field and problem."""
    source = Path(path) if path else default_mapping_path()
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"mapping file {source} does not exist; point OPS_MAPPING_FILE at an existing file, or unset it "
            "to use the mapping that ships in the package"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    return parse_mapping(document, str(source))


def parse_mapping(document: Any, source: str = "<memory>") -> Mapping:
    def fail(table: str | None, where: str, problem: str) -> ConfigError:
        scope = f"table {table!r}, field {where!r}" if table else f"field {where!r}"
        return ConfigError(f"{source}: {scope}: {problem}")

    if not isinstance(document, dict):
        raise fail(None, "<root>", "expected a mapping with 'version' and 'tables'")
    if document.get("version") != 1:
        raise fail(None, "version", f"unsupported mapping version {document.get('version')!r}; expected 1")
    tables = document.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise fail(None, "tables", "expected a non-empty mapping of table name -> definition")
    unknown_root = set(document) - {"version", "tables"}
    if unknown_root:
        raise fail(None, sorted(unknown_root)[0], "unknown field (allowed: version, tables)")
    built: dict[str, TableMapping] = {}
    for name, spec in tables.items():
        built[str(name)] = _parse_table(str(name), spec, fail)
    return Mapping(built, source)


def _parse_table(name: str, spec: Any, fail: Any) -> TableMapping:
    if not isinstance(spec, dict):
        raise fail(name, "<table>", "expected a mapping of fields")
    unknown = set(spec) - _TABLE_FIELDS
    if unknown:
        raise fail(name, sorted(unknown)[0], f"unknown field (allowed: {', '.join(sorted(_TABLE_FIELDS))})")
    for required in ("key_columns", "version_column", "pk", "sk", "columns"):
        if required not in spec:
            raise fail(name, required, "missing")
    column_types, attributes = _parse_columns(name, spec["columns"], fail)
    _check_table_fields(name, spec, column_types, fail)
    return TableMapping(
        table=name,
        key_columns=tuple(str(c) for c in _as_list(spec["key_columns"])),
        version_column=str(spec["version_column"]),
        pk_template=spec["pk"],
        sk_template=spec["sk"],
        column_types=column_types,
        attributes=attributes,
        updated_column=spec.get("updated_column"),
        nulls=spec.get("nulls", "omit"),
    )


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _parse_columns(name: str, columns: Any, fail: Any) -> tuple[dict[str, str], dict[str, str]]:
    if not isinstance(columns, dict) or not columns:
        raise fail(name, "columns", "expected a non-empty mapping of column -> {type, attribute}")
    column_types: dict[str, str] = {}
    attributes: dict[str, str] = {}
    owners: dict[str, str] = {}
    for column, raw_spec in columns.items():
        where = f"columns.{column}"
        column_spec = {"type": raw_spec} if isinstance(raw_spec, str) else raw_spec
        if not isinstance(column_spec, dict) or "type" not in column_spec:
            raise fail(name, where, "expected {type: <postgres type>, attribute: <name>}")
        extra = set(column_spec) - _COLUMN_FIELDS
        if extra:
            raise fail(name, f"{where}.{sorted(extra)[0]}", "unknown field (allowed: type, attribute)")
        type_name = codec.normalize_type(str(column_spec["type"]))
        if type_name is None:
            raise fail(
                name,
                f"{where}.type",
                f"unsupported type {column_spec['type']!r} (supported: {', '.join(codec.SCALAR_TYPES)}, "
                "and arrays as '<type>[]')",
            )
        attribute = column_spec.get("attribute", column)
        if not isinstance(attribute, str) or not attribute:
            raise fail(name, f"{where}.attribute", "must be a non-empty string")
        if attribute in RESERVED_ATTRIBUTES:
            raise fail(
                name,
                f"{where}.attribute",
                f"{attribute!r} is reserved ({', '.join(sorted(RESERVED_ATTRIBUTES))}); choose another name",
            )
        if attribute in owners:
            raise fail(
                name, f"{where}.attribute", f"{attribute!r} is already used by column {owners[attribute]!r}"
            )
        owners[attribute] = str(column)
        column_types[str(column)] = type_name
        attributes[str(column)] = attribute
    return column_types, attributes


def _check_table_fields(name: str, spec: dict[str, Any], column_types: dict[str, str], fail: Any) -> None:
    key_columns = _as_list(spec["key_columns"])
    if not isinstance(key_columns, list) or not key_columns:
        raise fail(name, "key_columns", "expected a non-empty list of columns")
    for column in key_columns:
        if column not in column_types:
            raise fail(name, "key_columns", f"column {column!r} is not listed under columns")
    version_column = spec["version_column"]
    if version_column not in column_types:
        raise fail(name, "version_column", f"column {version_column!r} is not listed under columns")
    if column_types[version_column] not in _INTEGER_TYPES:
        raise fail(name, "version_column", f"must be an integer column, not {column_types[version_column]}")
    updated_column = spec.get("updated_column")
    if updated_column is not None and column_types.get(updated_column) not in ("timestamptz", "timestamp"):
        raise fail(
            name, "updated_column", f"{updated_column!r} must be a timestamptz column listed under columns"
        )
    nulls = spec.get("nulls", "omit")
    if nulls not in NULL_POLICIES:
        raise fail(name, "nulls", f"expected one of {', '.join(NULL_POLICIES)}, got {nulls!r}")
    for which in ("pk", "sk"):
        _check_template(name, which, spec[which], column_types, fail)


def _check_template(name: str, which: str, template: Any, column_types: dict[str, str], fail: Any) -> None:
    if not isinstance(template, str) or not template:
        raise fail(name, which, "expected a non-empty template string such as 'COUPLE#{couple_id}'")
    try:
        parsed = _parse_template(template)
    except ValueError as exc:
        raise fail(name, which, str(exc)) from None
    for column in parsed.columns:
        if column not in column_types:
            raise fail(name, which, f"placeholder {{{column}}} is not a column listed under columns")
        if column_types[column] in _NON_KEY_TYPES or column_types[column].endswith("[]"):
            raise fail(
                name, which, f"column {column!r} of type {column_types[column]} cannot be part of a key"
            )
