"""The consumer's configuration: every environment variable it reads, validated at cold start.

Terraform sets exactly `ENV_VARS`; a contract test compares the two. Secrets (the database URL and
the Play service-account JSON) are read from Secrets Manager on AWS and from plain values locally.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.shared.exceptions import ConfigurationError

ENV_VARS: tuple[str, ...] = (
    "DATABASE_SECRET_ARN",
    "DATABASE_URL",
    "GOOGLE_PACKAGE_NAME",
    "GOOGLE_PLAY_CREDENTIALS_SECRET_ARN",
    "GOOGLE_PLAY_CREDENTIALS_FILE",
    "GOOGLE_PLAY_API_ROOT",
    "APPLE_LIFETIME_PRODUCT_IDS",
    "GOOGLE_LIFETIME_PRODUCT_IDS",
    "IDEMPOTENCY_DAYS",
    "LOG_LEVEL",
)

DEFAULT_IDEMPOTENCY_DAYS = 7
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

SecretReader = Callable[[str], str]


def _secrets_manager(arn: str) -> str:
    import boto3

    return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


@dataclass(frozen=True)
class ConsumerConfig:
    database_url: str
    google_package_name: str
    google_credentials_source: str  # "secret:<arn>" or "file:<path>" (loaded lazily)
    google_play_api_root: str | None
    apple_lifetime_product_ids: frozenset[str]
    google_lifetime_product_ids: frozenset[str]
    idempotency_days: int
    log_level: str

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, read_secret: SecretReader = _secrets_manager
    ) -> ConsumerConfig:
        """Read and validate ENV_VARS; raises ConfigurationError listing every problem."""
        env = os.environ if environ is None else environ
        get = lambda name: env.get(name, "").strip()  # noqa: E731
        problems: list[str] = []

        database_url = get("DATABASE_URL")
        if get("DATABASE_SECRET_ARN"):
            try:
                database_url = read_secret(get("DATABASE_SECRET_ARN"))
            except Exception as exc:
                problems.append(f"DATABASE_SECRET_ARN cannot be read ({exc.__class__.__name__})")
        elif not database_url:
            problems.append("DATABASE_SECRET_ARN (or DATABASE_URL locally) is required")
        if database_url and not database_url.startswith(("postgresql://", "postgres://", "host=")):
            problems.append("the database URL must be a postgresql:// URL")

        if get("GOOGLE_PLAY_CREDENTIALS_SECRET_ARN"):
            credentials = "secret:" + get("GOOGLE_PLAY_CREDENTIALS_SECRET_ARN")
        elif get("GOOGLE_PLAY_CREDENTIALS_FILE"):
            credentials = "file:" + get("GOOGLE_PLAY_CREDENTIALS_FILE")
        else:
            credentials = ""
            problems.append(
                "GOOGLE_PLAY_CREDENTIALS_SECRET_ARN (or GOOGLE_PLAY_CREDENTIALS_FILE locally) is required"
            )
        if not get("GOOGLE_PACKAGE_NAME"):
            problems.append("GOOGLE_PACKAGE_NAME is required")
        api_root = get("GOOGLE_PLAY_API_ROOT") or None
        if api_root and not api_root.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            problems.append(f"GOOGLE_PLAY_API_ROOT must be https (http only on loopback), got {api_root!r}")
        days_raw = get("IDEMPOTENCY_DAYS") or str(DEFAULT_IDEMPOTENCY_DAYS)
        days = int(days_raw) if days_raw.isdigit() else 0
        if days < DEFAULT_IDEMPOTENCY_DAYS:
            problems.append(f"IDEMPOTENCY_DAYS must be an integer >= 7, got {days_raw!r}")
        log_level = get("LOG_LEVEL").upper() or "INFO"
        if log_level not in _LOG_LEVELS:
            problems.append(f"LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))}, got {log_level!r}")
        if problems:
            raise ConfigurationError(
                "consumer configuration is invalid: "
                + "; ".join(problems)
                + ". Set these environment variables on the function (terraform/modules/notifications)."
            )
        return cls(
            database_url=database_url,
            google_package_name=get("GOOGLE_PACKAGE_NAME"),
            google_credentials_source=credentials,
            google_play_api_root=api_root,
            apple_lifetime_product_ids=_ids(get("APPLE_LIFETIME_PRODUCT_IDS")),
            google_lifetime_product_ids=_ids(get("GOOGLE_LIFETIME_PRODUCT_IDS")),
            idempotency_days=days,
            log_level=log_level,
        )

    def google_credentials(self, read_secret: SecretReader = _secrets_manager) -> dict[str, Any]:
        """The service-account JSON, parsed; ConfigurationError if it is missing or not JSON."""
        kind, _, where = self.google_credentials_source.partition(":")
        try:
            raw = read_secret(where) if kind == "secret" else Path(where).read_text(encoding="utf-8")
            info = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"Google Play service-account credentials ({kind}) cannot be loaded "
                f"({exc.__class__.__name__}); "
                "store the JSON key of a service account with Play Console access."
            ) from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ConfigurationError("Google Play credentials are not a service-account JSON key (type).")
        return info


def _ids(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())
