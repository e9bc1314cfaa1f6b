"""The SQL that creates DMS's and the backfill's database users from their secrets, run with psql
against real PostgreSQL (the local stack's `prod` cluster stands in for the source and for V2)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from ops.sandbox.postgres import find_bindir
from tests.terraform import tooling

pytestmark = pytest.mark.stack

V2_USERS = tooling.TERRAFORM_DIR / "modules" / "environment" / "sql" / "v2_users.sql"
REPLICATION_USER = tooling.TERRAFORM_DIR / "modules" / "production_link" / "sql" / "replication_user.sql"


def psql(
    url: str, script: Path, passwords: dict[str, str], *variables: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_OPS_", "PG"))}
    env.update(passwords)
    return subprocess.run(
        [str(find_bindir() / "psql"), url, "--no-psqlrc", "-X", "-f", str(script), *variables],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def role(url: str, name: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolreplication, rolpassword,"
            " pg_has_role(oid, 'pg_read_all_data', 'MEMBER')"
            " FROM pg_authid WHERE rolname = %s",
            (name,),
        ).fetchone()
    assert row is not None, f"role {name} was not created"
    keys = ("login", "superuser", "replication", "password", "reads_everything")
    return dict(zip(keys, row, strict=True))


def as_user(url: str, user: str) -> str:
    # The stack trusts loopback connections; the role's rights are what is under test here.
    return url.replace("postgresql://postgres@", f"postgresql://{user}@")


@pytest.fixture
def database(prod_db: str, unique_name: str) -> str:
    with psycopg.connect(prod_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE answers (id bigint PRIMARY KEY, body text)")
        conn.execute("INSERT INTO answers VALUES (1, 'hello')")
    return prod_db


def test_v2_users_the_writer_and_a_reader_that_cannot_write(database: str, unique_name: str) -> None:
    dms, reader = f"dms_{unique_name}".replace("-", "_"), f"reader_{unique_name}".replace("-", "_")
    users = ("-v", f"dms_user={dms}", "-v", f"reader_user={reader}")
    passwords = {"PLATFORM_OPS_DMS_PASSWORD": "writer-1", "PLATFORM_OPS_READER_PASSWORD": "reader-1"}

    done = psql(database, V2_USERS, passwords, *users)

    assert done.returncode == 0, done.stderr
    writer_role, reader_role = role(database, dms), role(database, reader)
    assert writer_role["login"] and writer_role["superuser"], writer_role
    assert reader_role["login"] and reader_role["reads_everything"] and not reader_role["superuser"], (
        reader_role
    )
    assert str(reader_role["password"]).startswith("SCRAM-SHA-256$"), "the reader must have its password"
    with psycopg.connect(as_user(database, reader)) as conn:
        assert conn.execute("SELECT body FROM answers").fetchall() == [("hello",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO answers VALUES (2, 'not allowed')")
    with psycopg.connect(as_user(database, dms)) as conn:
        # What the DMS target endpoint runs after it connects.
        conn.execute("SET session_replication_role = replica")
        conn.execute("INSERT INTO answers VALUES (2, 'replicated')")

    # A new credentials generation: the same script sets the new passwords.
    again = psql(database, V2_USERS, {**passwords, "PLATFORM_OPS_READER_PASSWORD": "reader-2"}, *users)
    assert again.returncode == 0, again.stderr
    assert role(database, reader)["password"] != reader_role["password"]


def test_the_replication_user_replicates_and_reads(database: str, unique_name: str) -> None:
    user = f"repl_{unique_name}".replace("-", "_")

    done = psql(
        database,
        REPLICATION_USER,
        {"PLATFORM_OPS_REPLICATION_PASSWORD": "r-1"},
        "-v",
        f"replication_user={user}",
    )

    assert done.returncode == 0, done.stderr
    found = role(database, user)
    assert found["login"] and found["replication"] and found["reads_everything"] and not found["superuser"], (
        found
    )
    with psycopg.connect(as_user(database, user)) as conn:
        assert conn.execute("SELECT count(*) FROM answers").fetchone() == (1,)


@pytest.mark.parametrize(
    ("script", "variable"),
    [(V2_USERS, "PLATFORM_OPS_DMS_PASSWORD"), (REPLICATION_USER, "PLATFORM_OPS_REPLICATION_PASSWORD")],
)
def test_a_missing_password_stops_with_where_to_find_it(database: str, script: Path, variable: str) -> None:
    passwords = {"PLATFORM_OPS_DMS_PASSWORD": "x", "PLATFORM_OPS_READER_PASSWORD": "y"}
    passwords.pop(variable, None)

    done = psql(database, script, passwords)

    assert done.returncode != 0
    assert f"{variable} is not set" in done.stderr and "secret" in done.stderr
