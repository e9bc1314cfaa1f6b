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
from typing import TYPE_CHECKING, Any, TypeVar

from lambdas.shared.exceptions import ConfigurationError

if TYPE_CHECKING:
    from lambdas.consumer.apple.store_api import AppStoreApi

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
    "PAYLOAD_RETENTION_DAYS",
    "LOG_LEVEL",
    # The App Store Server API (reconciliation, consumption answers); off when no key is given.
    "APP_STORE_API_KEY_SECRET_ARN",
    "APP_STORE_API_KEY_FILE",
    "APP_STORE_API_URL",
    "APPLE_BUNDLE_ID",
    "APPLE_APP_APPLE_ID",
    "APPLE_ENVIRONMENT",
    "APPLE_ROOT_CA_PATH",
    "APPLE_CONSUMPTION_RESPONSE",
    "APPLE_REFUND_PREFERENCE",
)

DEFAULT_IDEMPOTENCY_DAYS = 7
DEFAULT_PAYLOAD_RETENTION_DAYS = 90
DEFAULT_ROOT_CA_PATH = Path(__file__).parents[1] / "shared" / "certs" / "AppleRootCA-G3.cer"
REFUND_PREFERENCES = ("DECLINE", "GRANT_FULL", "GRANT_PRORATED")
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

SecretReader = Callable[[str], str]
T = TypeVar("T")


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
    payload_retention_days: int = DEFAULT_PAYLOAD_RETENTION_DAYS
    app_store: AppStoreSettings | None = None

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
        days = _days(get, "IDEMPOTENCY_DAYS", DEFAULT_IDEMPOTENCY_DAYS, problems)
        log_level = get("LOG_LEVEL").upper() or "INFO"
        if log_level not in _LOG_LEVELS:
            problems.append(f"LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))}, got {log_level!r}")
        retention = _days(get, "PAYLOAD_RETENTION_DAYS", DEFAULT_PAYLOAD_RETENTION_DAYS, problems)
        app_store = AppStoreSettings.from_env(get, problems)
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
            payload_retention_days=retention,
            app_store=app_store,
        )

    def google_credentials(self, read_secret: SecretReader = _secrets_manager) -> dict[str, Any]:
        """The service-account JSON, parsed; ConfigurationError if it is missing or not JSON."""
        info = _load_secret(
            self.google_credentials_source,
            read_secret,
            json.loads,
            "Google Play service-account credentials",
            "store the JSON key of a service account with Play Console access.",
        )
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ConfigurationError("Google Play credentials are not a service-account JSON key (type).")
        return info


def _load_secret(source: str, read_secret: SecretReader, parse: Callable[[str], T], what: str, fix: str) -> T:
    """Read `source` ("secret:<arn>" or "file:<path>") and parse it; ConfigurationError saying `fix`."""
    kind, _, where = source.partition(":")
    try:
        raw = read_secret(where) if kind == "secret" else Path(where).read_text(encoding="utf-8")
        return parse(raw)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"{what} ({kind}) cannot be loaded ({exc.__class__.__name__}); {fix}"
        ) from None


def _days(get: Callable[[str], str], name: str, default: int, problems: list[str]) -> int:
    """A number of days, at least seven (the SQS retention the idempotency must outlast)."""
    raw = get(name) or str(default)
    days = int(raw) if raw.isdigit() else 0
    if days < DEFAULT_IDEMPOTENCY_DAYS:
        problems.append(f"{name} must be an integer >= {DEFAULT_IDEMPOTENCY_DAYS}, got {raw!r}")
    return days


def _ids(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class AppStoreSettings:
    """The App Store Server API: where, with which key, and how its signed answers are verified."""

    key_source: str  # "secret:<arn>" or "file:<path>" (loaded lazily)
    url: str | None
    bundle_id: str
    app_apple_id: int | None
    environment: str
    root_ca_path: Path
    answer_consumption: bool
    refund_preference: str | None

    @classmethod
    def from_env(cls, get: Callable[[str], str], problems: list[str]) -> AppStoreSettings | None:
        if get("APP_STORE_API_KEY_SECRET_ARN"):
            key_source = "secret:" + get("APP_STORE_API_KEY_SECRET_ARN")
        elif get("APP_STORE_API_KEY_FILE"):
            key_source = "file:" + get("APP_STORE_API_KEY_FILE")
        else:
            if get("APPLE_CONSUMPTION_RESPONSE").lower() in ("on", "true", "1"):
                problems.append(
                    "APPLE_CONSUMPTION_RESPONSE=on needs the App Store Server API key "
                    "(APP_STORE_API_KEY_SECRET_ARN, or APP_STORE_API_KEY_FILE locally)"
                )
            return None
        url = get("APP_STORE_API_URL") or None
        if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            problems.append(f"APP_STORE_API_URL must be https (http only on loopback), got {url!r}")
        environment = get("APPLE_ENVIRONMENT")
        if environment not in ("Production", "Sandbox"):
            problems.append(f"APPLE_ENVIRONMENT must be Production or Sandbox, got {environment!r}")
        if not get("APPLE_BUNDLE_ID"):
            problems.append("APPLE_BUNDLE_ID is required with the App Store Server API key")
        app_apple_id = get("APPLE_APP_APPLE_ID")
        if app_apple_id and not app_apple_id.isdigit():
            problems.append(f"APPLE_APP_APPLE_ID must be the numeric App Store app id, got {app_apple_id!r}")
        elif not app_apple_id and environment == "Production":
            problems.append("APPLE_APP_APPLE_ID is required when APPLE_ENVIRONMENT=Production")
        answer = get("APPLE_CONSUMPTION_RESPONSE").lower() or "off"
        if answer not in ("on", "off", "true", "false", "1", "0"):
            problems.append(f"APPLE_CONSUMPTION_RESPONSE must be on or off, got {answer!r}")
        preference = get("APPLE_REFUND_PREFERENCE").upper() or None
        if preference and preference not in REFUND_PREFERENCES:
            problems.append(
                f"APPLE_REFUND_PREFERENCE must be one of {', '.join(REFUND_PREFERENCES)}, got {preference!r}"
            )
        root = Path(get("APPLE_ROOT_CA_PATH") or DEFAULT_ROOT_CA_PATH)
        if not root.is_file():
            problems.append(f"APPLE_ROOT_CA_PATH {root} does not exist")
        return cls(
            key_source=key_source,
            url=url,
            bundle_id=get("APPLE_BUNDLE_ID"),
            app_apple_id=int(app_apple_id) if app_apple_id.isdigit() else None,
            environment=environment,
            root_ca_path=root,
            answer_consumption=answer in ("on", "true", "1"),
            refund_preference=preference,
        )

    def api(self, read_secret: SecretReader = _secrets_manager) -> AppStoreApi:
        """The App Store Server API client with Apple's SignedDataVerifier, built from this configuration."""
        from lambdas.consumer.apple.store_api import AppStoreApi, AppStoreKey

        def key() -> AppStoreKey:
            return _load_secret(
                self.key_source,
                read_secret,
                AppStoreKey.from_json,
                "App Store Server API key",
                'store {"key_id", "issuer_id", "private_key"} of an App Store Connect in-app purchase key.',
            )

        # The key is read on the first call, not at cold start: a consumer deployed before the key is
        # stored keeps processing notifications.
        return AppStoreApi(
            key,
            bundle_id=self.bundle_id,
            app_apple_id=self.app_apple_id,
            environment=self.environment,
            root_certificates=[self.root_ca_path.read_bytes()],
            base_url=self.url,
        )
