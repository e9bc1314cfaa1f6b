-- The replication user DMS reads production as (runbooks/infrastructure.md). Run it as the source
-- database's master user; the password is the one in the migration environment's secret
-- dms_source_secret_arn, given through the environment, never the command line:
--
--   PLATFORM_OPS_REPLICATION_PASSWORD=... psql "host=<source> dbname=app user=<master>" -f replication_user.sql
--
-- Running it again (after a new credentials_generation) sets the new password.
\set ON_ERROR_STOP on
\if :{?replication_user}
\else
  \set replication_user platform_ops_replication
\endif
\getenv replication_password PLATFORM_OPS_REPLICATION_PASSWORD
\if :{?replication_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'PLATFORM_OPS_REPLICATION_PASSWORD is not set: take "password" from the secret dms_source_secret_arn of the migration environment'; END $$;
\endif

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'replication_user') AS create_user \gset
\if :create_user
  CREATE ROLE :"replication_user" LOGIN PASSWORD :'replication_password';
\else
  ALTER ROLE :"replication_user" LOGIN PASSWORD :'replication_password';
\endif
-- Logical replication: rds_replication on RDS, the REPLICATION attribute elsewhere.
SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_replication') AS on_rds \gset
\if :on_rds
  GRANT rds_replication TO :"replication_user";
\else
  ALTER ROLE :"replication_user" REPLICATION;
\endif
-- The full load reads every table; the replication user writes nothing.
GRANT pg_read_all_data TO :"replication_user";
