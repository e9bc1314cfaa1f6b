-- Subscription notification state: subscriptions, entitlements, event history, processed ids.
-- Applied by lambdas.consumer.repository.apply_migrations (ops and tests call it; the Lambda never does).

CREATE TABLE notification_subscriptions (
    id               bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    provider         text        NOT NULL CHECK (provider IN ('apple', 'google')),
    -- Apple originalTransactionId / Google purchaseToken.
    subscription_key text        NOT NULL,
    kind             text        NOT NULL DEFAULT 'subscription' CHECK (kind IN ('subscription', 'lifetime')),
    account_id       text,
    couple_id        bigint,
    product_id       text,
    plan             text        NOT NULL DEFAULT 'unknown'
                                 CHECK (plan IN ('monthly', 'annual', 'lifetime', 'unknown')),
    status           text        NOT NULL CHECK (status IN (
                         'active', 'grace', 'billing-retry', 'on-hold', 'paused', 'canceled-until-expiry',
                         'expired', 'revoked', 'refunded', 'replaced', 'pending')),
    expires_at       timestamptz,
    auto_renew       boolean,
    -- Apple signedDate / Google eventTimeMillis of the event that set the current state.
    last_event_at    timestamptz NOT NULL,
    -- Google plan change: the purchase token this one replaced.
    linked_key       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, subscription_key)
);
CREATE INDEX notification_subscriptions_owner ON notification_subscriptions (couple_id, account_id);

-- Premium for a couple (or, before the account is linked to a couple, for the account).
CREATE TABLE notification_entitlements (
    owner_key       text PRIMARY KEY,
    couple_id       bigint,
    account_id      text,
    premium         boolean     NOT NULL,
    source          text        NOT NULL CHECK (source IN ('subscription', 'lifetime', 'none')),
    subscription_id bigint REFERENCES notification_subscriptions (id),
    expires_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notification_events (
    id               bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    provider         text        NOT NULL,
    notification_id  text        NOT NULL,
    subscription_key text,
    event_type       text        NOT NULL,
    subtype          text,
    event_time       timestamptz,
    outcome          text        NOT NULL CHECK (outcome IN (
                         'applied', 'ignored-stale', 'recorded', 'unknown-type', 'not-found')),
    status_before    text,
    status_after     text,
    detail           jsonb       NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_events_subscription ON notification_events (provider, subscription_key, event_time);

-- Written in the same transaction as the effect; kept IDEMPOTENCY_DAYS (>= 7) then cleaned up.
CREATE TABLE notification_processed (
    provider        text        NOT NULL,
    notification_id text        NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, notification_id)
);
CREATE INDEX notification_processed_age ON notification_processed (processed_at);
