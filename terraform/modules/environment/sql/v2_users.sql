-- The V2 replica's two users, from their secrets (runbooks/infrastructure.md): the writer DMS
-- applies the replication as, and the read-only user of the backfill workers and the CLI.
-- Run it as the master user; the passwords come from the environment, never the command line:
--
--   PLATFORM_OPS_DMS_PASSWORD=... PLATFORM_OPS_READER_PASSWORD=... \
--     psql "host=<v2_address> dbname=app user=platform_ops sslmode=require" -f v2_users.sql
--
-- Running it again (after a new credentials_generation) sets the new passwords.
\set ON_ERROR_STOP on
\if :{?dms_user}
\else
  \set dms_user platform_ops_dms
\endif
\if :{?reader_user}
\else
  \set reader_user platform_ops_reader
\endif
\getenv dms_password PLATFORM_OPS_DMS_PASSWORD
\getenv reader_password PLATFORM_OPS_READER_PASSWORD
\if :{?dms_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'PLATFORM_OPS_DMS_PASSWORD is not set: take "password" from the secret v2_dms_writer_secret_arn'; END $$;
\endif
\if :{?reader_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'PLATFORM_OPS_READER_PASSWORD is not set: take "password" from the secret v2_reader_secret_arn'; END $$;
\endif

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'dms_user') AS create_dms_user \gset
\if :create_dms_user
  CREATE ROLE :"dms_user" LOGIN PASSWORD :'dms_password';
\else
  ALTER ROLE :"dms_user" LOGIN PASSWORD :'dms_password';
\endif
-- The target endpoint runs `SET session_replication_role = replica` (triggers and foreign keys must
-- not fire for replicated rows): that takes rds_superuser on RDS, superuser elsewhere.
SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_superuser') AS on_rds \gset
\if :on_rds
  GRANT rds_superuser TO :"dms_user";
\else
  ALTER ROLE :"dms_user" SUPERUSER;
\endif

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader_user') AS create_reader \gset
\if :create_reader
  CREATE ROLE :"reader_user" LOGIN PASSWORD :'reader_password';
\else
  ALTER ROLE :"reader_user" LOGIN PASSWORD :'reader_password';
\endif
-- Reads every table, today's and those DMS creates later; writes nothing.
GRANT pg_read_all_data TO :"reader_user";
