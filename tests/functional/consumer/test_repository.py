"""The repository's batch transaction: pipelined savepoints isolate a failing message."""

from __future__ import annotations

import psycopg
import pytest

from lambdas.consumer.repository import Repository, apply_migrations
from tests.functional.consumer.conftest import Db


def test_a_database_error_fails_only_its_own_savepoint_and_surfaces_in_that_message(db: Db) -> None:
    repository = Repository(db.url)
    with repository.batch():
        with repository.transaction():
            assert repository.claim("apple", "first", None)[0]
        with pytest.raises(psycopg.errors.DivisionByZero), repository.transaction():
            assert repository.claim("apple", "second", None)[0]
            repository.conn.execute("SELECT 1 / 0")
        with repository.transaction():
            assert repository.claim("apple", "third", None)[0]
            # The rolled-back claim is gone: the retry of "second" is not a duplicate.
            assert repository.claim("apple", "second", None)[0]
    rows = db.all("SELECT notification_id FROM notification_processed ORDER BY notification_id")
    assert [r["notification_id"] for r in rows] == ["first", "second", "third"]
    repository.close()


def test_migrations_apply_once_and_dry_run_changes_nothing(prod_db: str) -> None:
    every = ["0001_notifications", "0002_subscription_truth"]
    assert apply_migrations(prod_db, dry_run=True) == every
    assert apply_migrations(prod_db) == every
    assert apply_migrations(prod_db, dry_run=True) == []
    db = Db(prod_db)
    versions = db.all("SELECT version FROM notification_schema_migrations")
    db.conn.close()
    assert [v["version"] for v in versions] == every


def test_statements_repeated_across_failed_savepoints_keep_working(db: Db) -> None:
    """Many messages through one pipelined batch, every third failing inside its savepoint: the
    others commit, and statements repeated across failed savepoints keep working."""
    repository = Repository(db.url)
    with repository.batch():
        for index in range(12):
            failing = index % 3 == 1
            try:
                with repository.transaction():
                    repository.claim("apple", f"n-{index}", "2000000000000001")
                    if failing:
                        repository.conn.execute("SELECT 1 / 0")
            except psycopg.errors.DivisionByZero:
                assert failing
    rows = db.all("SELECT count(*) AS n FROM notification_processed")
    assert rows == [{"n": 8}]
    repository.close()
