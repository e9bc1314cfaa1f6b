"""Subscriptions, entitlements, event history and processed ids in PostgreSQL.

Every method runs inside the caller's transaction (`Repository.batch()` / `Repository.message()`),
so a notification's effect, its history entry and its processed-id row commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from lambdas.consumer.model import (
    Change,
    Current,
    Decision,
    Kind,
    Status,
    plan_of,
)
from lambdas.shared.migrations import Migrations

SCHEMA = Migrations("lambdas.consumer", "schema", "notification_schema_migrations")


def migration_files() -> list[tuple[str, str]]:
    return SCHEMA.files()


def apply_migrations(conninfo: str, *, dry_run: bool = False) -> list[str]:
    """Apply the consumer's pending migrations at `conninfo`; returns the versions applied now
    (with `dry_run`, the versions that would be applied; nothing changes)."""
    return SCHEMA.pending(conninfo) if dry_run else SCHEMA.apply(conninfo)


@dataclass(frozen=True)
class StoredSubscription:
    id: int
    current: Current
    account_id: str | None
    couple_id: int | None


class Repository:
    """One connection per Lambda container; reconnects after the connection breaks."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._has_users: bool | None = None
        self._depth = 0
        self._pipeline: psycopg.Pipeline | None = None
        self._savepoints = 0
        self._pending_events: list[tuple[Any, ...]] = []
        self._pending_payloads: list[tuple[Any, ...]] = []
        self._touched_owners: set[tuple[str | None, int | None]] = set()

    @property
    def conn(self) -> psycopg.Connection[dict[str, Any]]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            # No server-side prepared statements: one state-machine run failed with "prepared
            # statement _pg3_N does not exist" after errors in pipeline mode (psycopg's cache and
            # the server disagreed); without them that cannot happen, and the consumer also works
            # behind RDS Proxy / transaction-pooling PgBouncer.
            self._conn = psycopg.connect(
                self._conninfo, autocommit=True, row_factory=dict_row, prepare_threshold=None
            )
            self._has_users = None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction, or a savepoint when one is already open (one message inside a batch).

        History rows and entitlement refreshes are deferred to the end of the outermost
        transaction, still before its commit: a batch writes its history in one statement and
        recomputes each touched couple's entitlement once, not once per notification. A failed
        savepoint drops what it deferred.
        """
        outermost = self._depth == 0
        self._depth += 1
        events_mark = len(self._pending_events)
        payloads_mark = len(self._pending_payloads)
        owners_before = set(self._touched_owners)
        try:
            with (
                self._savepoint() if self._pipeline is not None and not outermost else self.conn.transaction()
            ):
                try:
                    yield
                except BaseException:
                    del self._pending_events[events_mark:]
                    del self._pending_payloads[payloads_mark:]
                    self._touched_owners &= owners_before
                    raise
                if outermost:
                    self._flush()
        finally:
            self._depth -= 1
            if outermost:
                self._pending_events.clear()
                self._pending_payloads.clear()
                self._touched_owners.clear()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for a whole SQS batch, in pipeline mode.

        Each message runs in a savepoint whose SAVEPOINT and RELEASE travel with the message's own
        statements instead of costing a round trip each; a sync at the end of every message makes
        its errors surface in that message, never in the next one.
        """
        with self.conn.pipeline() as pipeline:
            self._pipeline = pipeline
            try:
                with self.transaction():
                    yield
            finally:
                self._pipeline = None

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        assert self._pipeline is not None
        self._savepoints += 1
        name = f"message_{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
            self.conn.execute(f"RELEASE SAVEPOINT {name}")
            self._pipeline.sync()
        except BaseException:
            with suppress(psycopg.Error):
                # Drains a pipeline that an error aborted; it may re-raise that error.
                self._pipeline.sync()
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self._pipeline.sync()
            raise

    def _flush(self) -> None:
        for account_id, couple_id in sorted(self._touched_owners, key=str):
            self._refresh_entitlement(account_id, couple_id)
        if self._pending_events:
            with self.conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO notification_events (provider, notification_id, subscription_key, "
                    "event_type, subtype, event_time, outcome, status_before, status_after, detail) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    self._pending_events,
                )
        if self._pending_payloads:
            with self.conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO notification_payloads (provider, notification_id, subscription_key, "
                    "event_type, "
                    "outcome, payload, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (provider, notification_id) DO UPDATE SET event_type = EXCLUDED.event_type, "
                    "outcome = EXCLUDED.outcome, stored_at = now()",
                    self._pending_payloads,
                )

    # --- idempotency --------------------------------------------------------------------------

    def is_processed(self, provider: str, notification_id: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM notification_processed WHERE provider = %s AND notification_id = %s",
            (provider, notification_id),
        ).fetchone()
        return row is not None

    def claim(
        self, provider: str, notification_id: str, key: str | None
    ) -> tuple[bool, StoredSubscription | None]:
        """Record the id and lock the subscription `key` (if any), in one round trip.

        Returns (False, ...) when the id was already there: a duplicate delivery.
        """
        row = self.conn.execute(
            """
            WITH claimed AS (
                INSERT INTO notification_processed (provider, notification_id) VALUES (%(provider)s, %(id)s)
                ON CONFLICT DO NOTHING RETURNING 1
            )
            SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, s.*
            FROM (SELECT 1) AS one
            LEFT JOIN LATERAL (
                SELECT id, kind, status, expires_at, auto_renew, product_id, last_event_at, account_id,
                    couple_id, grace_until, latest_transaction_id
                FROM notification_subscriptions
                WHERE provider = %(provider)s AND subscription_key = %(key)s
                FOR UPDATE
            ) AS s ON true
            """,
            {"provider": provider, "id": notification_id, "key": key},
        ).fetchone()
        assert row is not None
        return bool(row["claimed"]), _stored(row)

    def cleanup_processed(self, days: int) -> int:
        """Forget processed ids older than `days`; SQS deduplicates for 5 minutes, we for days."""
        with self.conn.transaction():
            cursor = self.conn.execute(
                "DELETE FROM notification_processed WHERE processed_at < now() - make_interval(days => %s)",
                (days,),
            )
            return cursor.rowcount

    # --- subscriptions ------------------------------------------------------------------------

    def lock(self, provider: str, key: str) -> StoredSubscription | None:
        row = self.conn.execute(
            "SELECT id, kind, status, expires_at, auto_renew, product_id, last_event_at, account_id, "
            "couple_id, grace_until, latest_transaction_id "
            "FROM notification_subscriptions WHERE provider = %s AND subscription_key = %s FOR UPDATE",
            (provider, key),
        ).fetchone()
        return _stored(row)

    def save(
        self,
        provider: str,
        key: str,
        change: Change,
        event_time: datetime,
        stored: StoredSubscription | None,
    ) -> tuple[str | None, int | None]:
        """Write the new state; returns the subscription's (account_id, couple_id)."""
        account_id = change.account_id or (stored.account_id if stored else None)
        linked: StoredSubscription | None = None
        if change.replaces_key and change.replaces_key != key:
            linked = self.lock(provider, change.replaces_key)
            if linked is not None:
                account_id = account_id or linked.account_id
        couple_id = self.couple_of(account_id) if account_id else None
        if couple_id is None:
            couple_id = (stored.couple_id if stored else None) or (linked.couple_id if linked else None)
        product_id = change.product_id or (stored.current.product_id if stored else None)
        plan = "lifetime" if change.kind == "lifetime" else plan_of(product_id)
        expires_at = change.expires_at or (stored.current.expires_at if stored else None)
        auto_renew = (
            change.auto_renew
            if change.auto_renew is not None
            else (stored.current.auto_renew if stored else None)
        )
        self.conn.execute(
            """
            INSERT INTO notification_subscriptions AS s (provider, subscription_key, kind, account_id,
                couple_id, product_id, plan, status, expires_at, auto_renew, last_event_at, linked_key,
                grace_until, latest_transaction_id, ack_pending, flagged, checked_at)
            VALUES (%(provider)s, %(key)s, %(kind)s, %(account)s, %(couple)s, %(product)s, %(plan)s,
                %(status)s, %(expires)s, %(auto_renew)s, %(event_time)s, %(linked)s, %(grace)s,
                %(transaction)s, COALESCE(%(ack_pending)s, false), %(flag)s,
                CASE WHEN %(checked)s THEN now() END)
            ON CONFLICT (provider, subscription_key) DO UPDATE SET
                kind = EXCLUDED.kind, account_id = EXCLUDED.account_id, couple_id = EXCLUDED.couple_id,
                product_id = EXCLUDED.product_id, plan = EXCLUDED.plan, status = EXCLUDED.status,
                expires_at = EXCLUDED.expires_at, auto_renew = EXCLUDED.auto_renew,
                last_event_at = EXCLUDED.last_event_at,
                linked_key = COALESCE(EXCLUDED.linked_key, s.linked_key),
                grace_until = EXCLUDED.grace_until,
                latest_transaction_id = COALESCE(EXCLUDED.latest_transaction_id, s.latest_transaction_id),
                ack_pending = COALESCE(%(ack_pending)s, s.ack_pending),
                flagged = CASE WHEN %(checked)s THEN EXCLUDED.flagged
                    ELSE COALESCE(EXCLUDED.flagged, s.flagged) END,
                checked_at = COALESCE(EXCLUDED.checked_at, s.checked_at),
                updated_at = now()
            """,
            {
                "provider": provider,
                "key": key,
                "kind": change.kind,
                "account": account_id,
                "couple": couple_id,
                "product": product_id,
                "plan": plan,
                "status": change.status,
                "expires": expires_at,
                "auto_renew": auto_renew,
                "event_time": event_time,
                "linked": change.replaces_key,
                "grace": change.grace_until,
                "transaction": change.latest_transaction_id,
                "ack_pending": change.ack_pending,
                "flag": change.flag,
                "checked": change.checked,
            },
        )
        if linked is not None and linked.current.status != "replaced":
            # The plan change moves the entitlement: the old token stops counting.
            self.conn.execute(
                "UPDATE notification_subscriptions SET status = 'replaced', updated_at = now() WHERE id = %s",
                (linked.id,),
            )
            if (linked.account_id, linked.couple_id) != (account_id, couple_id):
                self.refresh_entitlement(linked.account_id, linked.couple_id)
        return account_id, couple_id

    def couple_of(self, account_id: str) -> int | None:
        """The couple of the app user whose external id the store echoes (appAccountToken /
        obfuscatedExternalAccountId), when the couple-diary `users` table is in this database."""
        if self._has_users is None:
            row = self.conn.execute("SELECT to_regclass('public.users') IS NOT NULL AS present").fetchone()
            self._has_users = bool(row and row["present"])
        if not self._has_users:
            return None
        row = self.conn.execute(
            "SELECT couple_id FROM users WHERE external_id::text = lower(%s)", (account_id,)
        ).fetchone()
        return row["couple_id"] if row else None

    # --- entitlements -------------------------------------------------------------------------

    def refresh_entitlement(self, account_id: str | None, couple_id: int | None) -> None:
        """Recompute premium for the couple (or the account) before the transaction commits."""
        if self._depth == 0:
            self._refresh_entitlement(account_id, couple_id)
        else:
            self._touched_owners.add((account_id, couple_id))

    def _refresh_entitlement(self, account_id: str | None, couple_id: int | None) -> None:
        """Recompute premium for the couple (or the account before it joins one) from all its purchases."""
        if couple_id is not None:
            owner, where, arg = f"couple:{couple_id}", "couple_id = %(arg)s", cast(object, couple_id)
        elif account_id is not None:
            owner, where, arg = (
                f"account:{account_id}",
                "account_id = %(arg)s AND couple_id IS NULL",
                account_id,
            )
        else:
            return
        # One statement (no round trip for the rows): the purchase whose access lasts longest (the
        # lifetime pass: 9999-12-31). Premium is read at read time from entitled_until
        # (notification_entitlements_now); `premium` is its value when the row was written.
        self.conn.execute(
            f"""
            INSERT INTO notification_entitlements AS e (owner_key, couple_id, account_id, premium, source,
                subscription_id, expires_at, entitled_until)
            SELECT %(owner)s, %(couple)s, %(account)s, COALESCE(best.entitled_until > now(), false),
                COALESCE(best.kind, 'none'), best.id,
                CASE WHEN best.kind = 'subscription' THEN best.entitled_until END, best.entitled_until
            FROM (SELECT 1) AS one
            LEFT JOIN LATERAL (
                SELECT id, kind, entitled_until FROM notification_subscriptions
                WHERE {where} AND entitled_until IS NOT NULL
                ORDER BY entitled_until DESC, id DESC
                LIMIT 1
            ) AS best ON true
            ON CONFLICT (owner_key) DO UPDATE SET premium = EXCLUDED.premium, source = EXCLUDED.source,
                subscription_id = EXCLUDED.subscription_id, expires_at = EXCLUDED.expires_at,
                entitled_until = EXCLUDED.entitled_until, account_id = EXCLUDED.account_id, updated_at = now()
            """,
            {"owner": owner, "couple": couple_id, "account": account_id, "arg": arg},
        )

    def entitlement(self, owner_key: str) -> dict[str, Any] | None:
        """Premium now for `owner_key` (`couple:<id>` / `account:<id>`): notification_entitlements_now."""
        return self.conn.execute(
            "SELECT * FROM notification_entitlements_now WHERE owner_key = %s", (owner_key,)
        ).fetchone()

    # --- history ------------------------------------------------------------------------------

    def record_event(
        self,
        *,
        provider: str,
        notification_id: str,
        key: str | None,
        event_time: datetime,
        decision: Decision,
        outcome: str,
        status_before: str | None,
        status_after: str | None,
        payload: dict[str, Any] | None = None,
        received_at: datetime | None = None,
    ) -> None:
        """Queue a history row (and the raw payload, kept for replay); written with the rest of the
        transaction's, before the commit."""
        if self._depth == 0:
            raise RuntimeError("record_event must run inside Repository.transaction()")
        if payload is not None:
            label = decision.event_type + (f"/{decision.subtype}" if decision.subtype else "")
            self._pending_payloads.append(
                (provider, notification_id, key, label, outcome, Jsonb(payload), received_at or event_time)
            )
        self._pending_events.append(
            (
                provider,
                notification_id,
                key,
                decision.event_type,
                decision.subtype,
                event_time,
                outcome,
                status_before,
                status_after,
                Jsonb(decision.detail),
            ),
        )

    # --- consent (Apple RESCIND_CONSENT) ------------------------------------------------------

    def rescind_consent(self, app_transaction_id: str, at: datetime) -> None:
        self.conn.execute(
            "INSERT INTO notification_consent_rescinded (app_transaction_id, rescinded_at) VALUES (%s, %s) "
            "ON CONFLICT (app_transaction_id) DO NOTHING",
            (app_transaction_id, at),
        )

    def consent_rescinded(self, app_transaction_id: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM notification_consent_rescinded WHERE app_transaction_id = %s",
            (app_transaction_id,),
        ).fetchone()
        return row is not None

    # --- reconciliation -----------------------------------------------------------------------

    def due_subscriptions(
        self,
        *,
        lookback: timedelta,
        horizon: timedelta,
        stale_after: timedelta,
        limit: int,
        every: bool = False,
    ) -> list[DueSubscription]:
        """Rows the stores should be asked about, most urgent first.

        flagged; unacknowledged (Play refunds after 3 days); access ending within `horizon` or ended
        within `lookback` (a renewal, recovery or resubscription may have been missed); states that
        move without us (billing retry, on hold, paused, pending); anything not checked for
        `stale_after`. `every`: all rows (a full sweep).
        """
        rows = self.conn.execute(
            """
            SELECT provider, subscription_key, kind, product_id,
                CASE
                    WHEN %(every)s THEN 'sweep'
                    WHEN flagged IS NOT NULL THEN 'flagged:' || flagged
                    WHEN ack_pending THEN 'unacknowledged'
                    WHEN entitled_until < now() + %(horizon)s THEN 'expiring'
                    WHEN status IN ('billing-retry', 'on-hold', 'paused', 'pending', 'grace') THEN 'in-flux'
                    WHEN status = 'expired' AND COALESCE(expires_at, last_event_at) > now() - %(lookback)s
                        THEN 'recently-expired'
                    ELSE 'stale'
                END AS reason
            FROM notification_subscriptions
            WHERE %(every)s
               OR flagged IS NOT NULL
               OR ack_pending
               OR (entitled_until IS NOT NULL AND entitled_until < now() + %(horizon)s)
               OR status IN ('billing-retry', 'on-hold', 'paused', 'pending', 'grace')
               OR (status = 'expired' AND COALESCE(expires_at, last_event_at) > now() - %(lookback)s)
               OR (status NOT IN ('replaced', 'refunded', 'revoked', 'expired')
                   AND COALESCE(checked_at, last_event_at) < now() - %(stale)s)
            ORDER BY flagged IS NULL, NOT ack_pending, entitled_until NULLS LAST, id
            LIMIT %(limit)s
            """,
            {"every": every, "horizon": horizon, "lookback": lookback, "stale": stale_after, "limit": limit},
        ).fetchall()
        return [
            DueSubscription(r["provider"], r["subscription_key"], r["kind"], r["product_id"], r["reason"])
            for r in rows
        ]

    def status_of(self, provider: str, key: str) -> tuple[str | None, datetime | None]:
        """(status, entitled_until) of one row; (None, None) when it does not exist."""
        row = self.conn.execute(
            "SELECT status, entitled_until FROM notification_subscriptions "
            "WHERE provider = %s AND subscription_key = %s",
            (provider, key),
        ).fetchone()
        return (row["status"], row["entitled_until"]) if row else (None, None)

    def flag(self, provider: str, key: str, reason: str) -> None:
        """Ask the next reconciliation to check this row."""
        self.conn.execute(
            "UPDATE notification_subscriptions SET flagged = %s "
            "WHERE provider = %s AND subscription_key = %s",
            (reason, provider, key),
        )

    # --- stored payloads ----------------------------------------------------------------------

    def stored_payloads(
        self, *, outcome: str | None, event_type: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Stored notifications to replay, oldest first: by outcome (e.g. unknown-type) and/or type."""
        return self.conn.execute(
            "SELECT provider, notification_id, subscription_key, event_type, outcome, payload, received_at "
            "FROM notification_payloads WHERE (%(outcome)s::text IS NULL OR outcome = %(outcome)s) "
            "AND (%(type)s::text IS NULL OR event_type = %(type)s) ORDER BY received_at LIMIT %(limit)s",
            {"outcome": outcome, "type": event_type, "limit": limit},
        ).fetchall()

    def forget_processed(self, provider: str, notification_id: str) -> None:
        """Let a stored notification be applied again (replay after a strategy was added)."""
        self.conn.execute(
            "DELETE FROM notification_processed WHERE provider = %s AND notification_id = %s",
            (provider, notification_id),
        )

    def cleanup_payloads(self, days: int) -> int:
        """Forget payloads older than `days`, except those no strategy applied yet (kept for replay)."""
        with self.conn.transaction():
            cursor = self.conn.execute(
                "DELETE FROM notification_payloads WHERE stored_at < now() - make_interval(days => %s) "
                "AND outcome <> 'unknown-type'",
                (days,),
            )
            return cursor.rowcount


@dataclass(frozen=True)
class DueSubscription:
    provider: str
    key: str
    kind: str
    product_id: str | None
    reason: str


def _stored(row: dict[str, Any] | None) -> StoredSubscription | None:
    if row is None or row.get("id") is None:
        return None
    return StoredSubscription(
        id=row["id"],
        current=Current(
            kind=cast(Kind, row["kind"]),
            status=cast(Status, row["status"]),
            expires_at=row["expires_at"],
            auto_renew=row["auto_renew"],
            product_id=row["product_id"],
            last_event_at=row["last_event_at"],
            grace_until=row.get("grace_until"),
            latest_transaction_id=row.get("latest_transaction_id"),
        ),
        account_id=row["account_id"],
        couple_id=row["couple_id"],
    )
