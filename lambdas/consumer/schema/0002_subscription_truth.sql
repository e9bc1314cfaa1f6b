-- Entitlements that follow time, store reconciliation, raw payloads for replay, consent.
-- Applied by lambdas.consumer.repository.apply_migrations after 0001.

-- Apple gracePeriodExpiresDate: access continues to it while billing is retried.
ALTER TABLE notification_subscriptions ADD COLUMN grace_until timestamptz;
-- Apple transactionId / Google latestOrderId of the period the row describes.
ALTER TABLE notification_subscriptions ADD COLUMN latest_transaction_id text;
-- Google: the purchase still waits for its acknowledgement (Play refunds it after 3 days).
ALTER TABLE notification_subscriptions ADD COLUMN ack_pending boolean NOT NULL DEFAULT false;
-- When the store was last asked for the truth about this row (reconciliation or a strategy's read).
ALTER TABLE notification_subscriptions ADD COLUMN checked_at timestamptz;
-- Why the row must be reconciled soon (NULL: nothing known to be wrong).
ALTER TABLE notification_subscriptions ADD COLUMN flagged text;
-- Until when the row gives access: the store's expiry (or grace end); 9999-12-31 (never: psycopg
-- cannot read 'infinity') for an active lifetime
-- pass; NULL when it gives none. Computed here so every reader agrees.
ALTER TABLE notification_subscriptions ADD COLUMN entitled_until timestamptz GENERATED ALWAYS AS (
    CASE
        WHEN kind = 'lifetime' THEN CASE WHEN status = 'active' THEN '9999-12-31 00:00:00+00'::timestamptz END
        WHEN status IN ('active', 'canceled-until-expiry') THEN expires_at
        WHEN status = 'grace' THEN GREATEST(expires_at, grace_until)
    END
) STORED;
CREATE INDEX notification_subscriptions_due ON notification_subscriptions (entitled_until)
    WHERE entitled_until IS NOT NULL AND entitled_until < '9999-12-31 00:00:00+00';
CREATE INDEX notification_subscriptions_flagged ON notification_subscriptions (flagged) WHERE flagged IS NOT NULL;
CREATE INDEX notification_subscriptions_ack ON notification_subscriptions (ack_pending) WHERE ack_pending;
CREATE INDEX notification_subscriptions_linked ON notification_subscriptions (provider, linked_key)
    WHERE linked_key IS NOT NULL;

ALTER TABLE notification_entitlements ADD COLUMN entitled_until timestamptz;

-- What the application reads: premium now, from the stored end of access, never from a flag that
-- only a notification could clear.
CREATE VIEW notification_entitlements_now AS
SELECT owner_key, couple_id, account_id,
       COALESCE(entitled_until > now(), false) AS premium,
       CASE WHEN entitled_until > now() THEN source ELSE 'none' END AS source,
       subscription_id, entitled_until, updated_at
FROM notification_entitlements;

ALTER TABLE notification_events DROP CONSTRAINT notification_events_outcome_check;
ALTER TABLE notification_events ADD CONSTRAINT notification_events_outcome_check CHECK (outcome IN (
    'applied', 'ignored-stale', 'recorded', 'unknown-type', 'not-found', 'reconciled'));

-- Every notification as the consumer received it (unknown types included), for replay once a
-- strategy exists: Google has no notification history to fetch them from again.
CREATE TABLE notification_payloads (
    provider         text        NOT NULL,
    notification_id  text        NOT NULL,
    subscription_key text,
    event_type       text        NOT NULL,
    outcome          text        NOT NULL,
    payload          jsonb       NOT NULL,
    received_at      timestamptz NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, notification_id)
);
CREATE INDEX notification_payloads_outcome ON notification_payloads (outcome, stored_at);

-- Apple RESCIND_CONSENT: the customer (by appTransactionId) withdrew consent to share data with
-- Apple; consumption information is never sent for their transactions again.
CREATE TABLE notification_consent_rescinded (
    app_transaction_id text PRIMARY KEY,
    rescinded_at       timestamptz NOT NULL
);
