"""Item -> row, the inverse of the codec, through real PostgreSQL: for every mapped type, what the
reverse writer stores reads back as exactly the item it came from (hypothesis over the types)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.rows import dict_row

from ops.mapping import Mapping, configure_connection
from ops.reverse import Change, ReverseApplier
from ops.reverse.control import make_pool
from ops.schema import apply_migrations
from tests.unit.mapping.test_mapping_codec_roundtrip import STRATEGIES, TM, TYPES

pytestmark = pytest.mark.stack

# PostgreSQL cannot hold NUL in text or jsonb, nor a lone surrogate (UTF-8 has no encoding for
# one; the codec refuses it before it is written), and prints a `real` with the fewest digits that
# identify the 4-byte value (87651768 reads back as 8.765177e+07): items that come from PostgreSQL
# never carry anything else, so neither do these.
_NO_NUL = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
POSTGRES_STRATEGIES = {
    **STRATEGIES,
    "text": _NO_NUL,
    "real": st.integers(-(2**24), 2**24).map(float) | st.integers(-4096, 4096).map(lambda n: n / 8),
    "text[]": st.lists(st.none() | _NO_NUL.filter(lambda t: len(t) <= 10), max_size=5),
}


def _no_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, list):
        return all(_no_nul(v) for v in value)
    if isinstance(value, dict):
        return all(_no_nul(k) and _no_nul(v) for k, v in value.items())
    return True


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {"id": 0, "version": draw(st.integers(1, 2**62))}
    for t in TYPES:
        value = draw(st.none() | POSTGRES_STRATEGIES[t])
        row["c_" + t.replace("[]", "_arr")] = value if _no_nul(value) else None
    return row


@pytest.fixture(scope="module")
def table(stack: Any) -> Iterator[tuple[str, Any]]:
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(stack.prod_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = stack.prod_url.rsplit("/", 1)[0] + f"/{name}"
    apply_migrations(url)
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(TM.sql_type(c))) for c in TM.columns
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE t ({}, PRIMARY KEY (id))").format(columns))
    pool = make_pool(url)
    yield url, pool
    pool.close()


IDS = itertools.count(1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows())
def test_every_type_comes_back_from_postgresql_as_the_same_item(
    table: tuple[str, Any], row: dict[str, Any]
) -> None:
    url, pool = table
    row["id"] = next(IDS)
    item = TM.encode(row)
    result = ReverseApplier(Mapping({"t": TM}), pool).apply([Change("1", "INSERT", item)])
    assert result.applied == 1, result.failed
    with psycopg.connect(url, row_factory=dict_row) as conn:
        configure_connection(conn)
        stored = conn.execute("SELECT * FROM t WHERE id = %s", (row["id"],)).fetchone()
    assert stored is not None
    assert TM.diff(TM.encode(stored), item) == {}
