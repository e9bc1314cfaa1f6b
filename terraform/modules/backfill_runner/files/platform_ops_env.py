"""Write the ops CLI's environment file on a backfill worker, V2_DATABASE_URL included.

The settings come from Terraform (a JSON file written by user data); the database URL is built
from the read-only user's secret each time this runs (at boot and before every `platform-ops`
command), so a rotated password is picked up and never sits in user data.

Usage: platform_ops_env.py SETTINGS_JSON SECRET_ARN ENV_FILE
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import boto3


def database_url(secret: dict[str, object]) -> str:
    """A libpq URL from a DMS/RDS-style secret (username, password, host, port, dbname)."""
    user = quote(str(secret["username"]), safe="")
    password = quote(str(secret["password"]), safe="")
    return (
        f"postgresql://{user}:{password}@{secret['host']}:{secret['port']}/{secret['dbname']}?sslmode=require"
    )


def render(settings: dict[str, str], url: str) -> str:
    values = {**settings, "V2_DATABASE_URL": url}
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(values.items()))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    settings_path, secret_arn, env_path = argv
    settings = json.loads(Path(settings_path).read_text())
    client = boto3.client("secretsmanager", region_name=settings.get("AWS_DEFAULT_REGION"))
    secret = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    target = Path(env_path)
    # The file holds a password: written whole, readable by root only.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".platform-ops-env-")
    with os.fdopen(fd, "w") as handle:
        handle.write(render(settings, database_url(secret)))
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
