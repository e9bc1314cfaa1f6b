"""Values PostgreSQL holds and Python or DynamoDB cannot: one failed row each, never a stopped copy.

A `timestamptz` of `'infinity'` used to make the driver raise while loading the page: the backfill
plan, the copy and the verification all stopped with a traceback, and every resume failed the
same way. A top-level jsonb `'null'` used to load as SQL NULL and silently lose its attribute.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from ops.backfill.engine import run_backfill
from ops.backfill.failures import FailureLog
from ops.settings import Settings
from ops.verify import VerifyOptions, run_verify, verify_gate
from tests.functional.backfill.support import Env, seed

pytestmark = pytest.mark.stack


def _set(env: Env, statement: str) -> None:
    with psycopg.connect(env.source_url, autocommit=True) as conn:
        conn.execute(statement)


def test_an_infinite_timestamp_is_one_failed_row_and_the_copy_goes_on(env: Env) -> None:
    seed(env.source_url, 300)
    _set(env, "UPDATE answers SET created_at = 'infinity' WHERE id = 17")
    _set(env, "UPDATE answers SET updated_at = '-infinity' WHERE id = 250")
    result = run_backfill(env.options())
    assert result.counters.rows_read == 300
    assert result.counters.rows_written == 298 and result.counters.rows_failed == 2
    assert result.segments_complete == 4
    failures = {f.key["id"]: f for f in FailureLog(env.control, "answers").list()}
    assert set(failures) == {17, 250}
    assert failures[17].column == "created_at" and "'infinity'" in failures[17].reason
    assert "-infinity" in failures[250].reason


def test_verification_reports_the_row_and_the_gate_says_how_to_fix_it(env: Env) -> None:
    seed(env.source_url, 120)
    run_backfill(env.options())
    _set(env, "UPDATE answers SET created_at = 'infinity' WHERE id = 5")
    options: dict[str, Any] = {
        "source_url": env.source_url,
        "primary_url": env.source_url,
        "dataset": "answers",
        "target_table": env.target_table,
        "segments": 2,
        "recheck_delay": 0.1,
        "progress": False,
    }
    result = run_verify(VerifyOptions(**options), settings=Settings.from_env(), control=env.control)
    assert result.errors == 1 and result.rows_compared == 120
    assert "infinity" in result.samples[0]["reason"]
    gate = verify_gate(env.control, "answers")
    failed = {c.name: c for c in gate.failed}
    assert "ops backfill failures" in failed["differences"].fix
    assert "cannot be repaired" in failed["differences"].fix


def test_a_jsonb_document_null_keeps_its_attribute(env: Env) -> None:
    seed(env.source_url, 40)
    _set(env, "UPDATE answers SET metadata = 'null'::jsonb WHERE id = 3")
    _set(env, "UPDATE answers SET metadata = NULL WHERE id = 4")
    run_backfill(env.options())
    items = {int(i["answerId"]["N"]): i for i in env.items().values()}
    assert items[3]["metadata"] == {"NULL": True}
    assert "metadata" not in items[4]
    env.assert_copy_equals_source()
