"""Who is running the cutover: the AWS caller identity, else the OS user."""

from __future__ import annotations

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ops import aws
from ops.flags import operator_name


def operator_identity() -> str:
    """The caller's ARN when AWS answers (quickly), else `os:<user>`; never fails."""
    try:
        sts = aws.client("sts", Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1}))
        arn = sts.get_caller_identity().get("Arn")
        if arn:
            return str(arn)
    except (BotoCoreError, ClientError):
        pass
    return f"os:{operator_name()}"
