"""Re-drive the failure log: re-read each failed row from the source, encode it, put it again.

A row copied (or found already present) is marked resolved; a row that still fails keeps its
entry with the new reason and one more attempt; a row gone from the source is resolved as such
(its deletion reaches DynamoDB through dual-write).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from ops import aws
from ops.backfill.dynamo_http import DynamoHttpClient
from ops.backfill.failures import Failure, FailureLog
from ops.backfill.options import BackfillOptions, dynamodb_endpoint
from ops.backfill.throttle import Throttle
from ops.backfill.writer import Outcome, PutWriter
from ops.control import ControlTable
from ops.mapping import RowError, TableMapping, configure_connection, load_mapping


@dataclass
class RetryResult:
    attempted: int = 0
    copied: int = 0
    present: int = 0
    gone: int = 0
    still_failing: int = 0
    reasons: list[str] = field(default_factory=list)


def _fetch(conn: psycopg.Connection, tm: TableMapping, key: dict[str, object]) -> dict[str, object] | None:
    where = sql.SQL(" AND ").join(
        sql.SQL("{} = %s::{}").format(sql.Identifier(c), sql.SQL(tm.sql_type(c))) for c in tm.key_columns
    )
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in tm.columns), sql.Identifier(tm.table), where
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, [key[c] for c in tm.key_columns]).fetchone()


def retry_failed(options: BackfillOptions, control: ControlTable | None = None) -> RetryResult:
    o = options.resolved()
    assert o.run_id and o.source_url and o.target_table and o.control_table
    mapping = load_mapping(o.mapping_path)
    control = control or ControlTable(o.control_table)
    log = FailureLog(control, o.run_id)
    result = RetryResult()
    failures = log.list(only_open=True)
    if not failures:
        return result
    client = DynamoHttpClient(dynamodb_endpoint(o.endpoint), aws.region(), o.target_table)
    writer = PutWriter(client, Throttle(o.rate))
    with psycopg.connect(o.source_url, autocommit=True) as conn:
        configure_connection(conn)
        asyncio.run(
            _redrive(failures, conn=conn, tables=mapping.tables, log=log, writer=writer, result=result)
        )
    return result


async def _redrive(
    failures: list[Failure],
    *,
    conn: psycopg.Connection,
    tables: dict[str, TableMapping],
    log: FailureLog,
    writer: PutWriter,
    result: RetryResult,
) -> None:
    connection = writer.client.connect()
    try:
        for failure in failures:
            result.attempted += 1
            tm = tables[failure.table]
            row = _fetch(conn, tm, failure.key)
            if row is None:
                log.resolve(failure, "row no longer in the source")
                result.gone += 1
                continue
            try:
                item = tm.encode(row)
            except RowError as exc:
                log.record(tm.table, failure.key, exc.column, exc.reason, "encode")
                result.still_failing += 1
                result.reasons.append(f"{tm.table} {failure.key}: {exc.reason}")
                continue
            put = await writer.put(connection, writer.client.put_item_body(item))
            if put.outcome is Outcome.FAILED:
                log.record(tm.table, failure.key, None, put.reason, put.kind)
                result.still_failing += 1
                result.reasons.append(f"{tm.table} {failure.key}: {put.reason}")
            elif put.outcome is Outcome.PRESENT:
                log.resolve(failure, "already present in DynamoDB")
                result.present += 1
            else:
                log.resolve(failure, "copied by retry-failed")
                result.copied += 1
    finally:
        connection.close()
