-- The PostgreSQL side of the migration flag (ops/fence.py): one row per dataset that every
-- dual-write transaction reads with FOR KEY SHARE and every flag change rewrites under FOR UPDATE,
-- so a write commits wholly before or wholly after a change and knows its generation.
CREATE TABLE migration_fence (
    dataset      text        PRIMARY KEY,
    generation   bigint      NOT NULL DEFAULT 0,
    mode         text        NOT NULL DEFAULT 'postgres',
    paused       boolean     NOT NULL DEFAULT false,
    paused_until timestamptz,
    changed_at   timestamptz NOT NULL DEFAULT now()
);

-- Row versions are (generation << 44) + the table's version sequence (ops/flags.py
-- compose_version): a sequence must never reach into the generation bits.
ALTER SEQUENCE couples_version_seq MAXVALUE 17592186044415;
ALTER SEQUENCE users_version_seq MAXVALUE 17592186044415;
ALTER SEQUENCE questions_version_seq MAXVALUE 17592186044415;
ALTER SEQUENCE answers_version_seq MAXVALUE 17592186044415;
