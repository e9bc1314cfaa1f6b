"""The receiver's configuration: every environment variable it reads, validated at cold start.

Terraform sets exactly `ENV_VARS`; a contract test compares the two. Validation collects every
problem at once so a broken deployment is fixed in one pass, not one variable per cold start.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from lambdas.shared.exceptions import ConfigurationError

ENV_VARS: tuple[str, ...] = (
    "NOTIFICATIONS_QUEUE_URL",
    "APPLE_BUNDLE_ID",
    "APPLE_APP_APPLE_ID",
    "APPLE_ENVIRONMENT",
    "APPLE_ROOT_CA_PATH",
    "APPLE_ONLINE_CHECKS",
    "GOOGLE_PACKAGE_NAME",
    "GOOGLE_PUBSUB_AUDIENCE",
    "GOOGLE_PUSH_SERVICE_ACCOUNT",
    "GOOGLE_JWKS_URL",
    "MAX_BODY_BYTES",
    "LOG_LEVEL",
)

DEFAULT_ROOT_CA_PATH = Path(__file__).parents[1] / "shared" / "certs" / "AppleRootCA-G3.cer"
# The published SHA-256 of Apple Root CA - G3: the shipped file is checked against it at cold start.
APPLE_ROOT_CA_G3_SHA256 = "63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179"
DEFAULT_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
# A V2 notification with both nested JWS is ~10-15 KiB; 64 KiB leaves room and bounds the work
# an unauthenticated caller can make us do.
DEFAULT_MAX_BODY_BYTES = 65_536
APPLE_ENVIRONMENTS = ("Production", "Sandbox")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


@dataclass(frozen=True)
class ReceiverConfig:
    queue_url: str
    apple_bundle_id: str
    apple_app_apple_id: int | None
    apple_environment: str
    apple_root_ca_path: Path
    apple_root_ca_der: bytes
    apple_online_checks: bool
    google_package_name: str
    google_audience: str
    google_service_account: str
    google_jwks_url: str
    max_body_bytes: int
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReceiverConfig:
        """Read and validate ENV_VARS; raises ConfigurationError listing every problem."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required")
            return value

        queue_url = required("NOTIFICATIONS_QUEUE_URL")
        if queue_url and not queue_url.endswith(".fifo"):
            problems.append(f"NOTIFICATIONS_QUEUE_URL must name a FIFO queue (*.fifo), got {queue_url}")
        environment = required("APPLE_ENVIRONMENT")
        if environment and environment not in APPLE_ENVIRONMENTS:
            problems.append(f"APPLE_ENVIRONMENT must be Production or Sandbox, got {environment!r}")
        online = env.get("APPLE_ONLINE_CHECKS", "").strip().lower()
        if online not in _TRUE | _FALSE:
            problems.append(f"APPLE_ONLINE_CHECKS must be true or false, got {online!r}")
        jwks_url = env.get("GOOGLE_JWKS_URL", "").strip() or DEFAULT_JWKS_URL
        if not _is_safe_url(jwks_url):
            problems.append(f"GOOGLE_JWKS_URL must be an https URL (http only on loopback), got {jwks_url!r}")
        log_level = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
        if log_level not in _LOG_LEVELS:
            problems.append(f"LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))}, got {log_level!r}")
        root_path = Path(env.get("APPLE_ROOT_CA_PATH", "").strip() or DEFAULT_ROOT_CA_PATH)

        config = cls(
            queue_url=queue_url,
            apple_bundle_id=required("APPLE_BUNDLE_ID"),
            apple_app_apple_id=_app_apple_id(env.get("APPLE_APP_APPLE_ID", ""), environment, problems),
            apple_environment=environment,
            apple_root_ca_path=root_path,
            apple_root_ca_der=_root_ca(root_path, problems),
            apple_online_checks=online in _TRUE,
            google_package_name=required("GOOGLE_PACKAGE_NAME"),
            google_audience=required("GOOGLE_PUBSUB_AUDIENCE"),
            google_service_account=required("GOOGLE_PUSH_SERVICE_ACCOUNT"),
            google_jwks_url=jwks_url,
            max_body_bytes=_max_body(env.get("MAX_BODY_BYTES", "").strip(), problems),
            log_level=log_level,
        )
        if problems:
            raise ConfigurationError(
                "receiver configuration is invalid: "
                + "; ".join(problems)
                + ". Set these environment variables on the function (terraform/modules/notifications)."
            )
        return config


def _app_apple_id(raw: str, environment: str, problems: list[str]) -> int | None:
    raw = raw.strip()
    if raw:
        if raw.isdigit():
            return int(raw)
        problems.append(f"APPLE_APP_APPLE_ID must be the numeric App Store app id, got {raw!r}")
    elif environment == "Production":
        problems.append(
            "APPLE_APP_APPLE_ID is required when APPLE_ENVIRONMENT=Production "
            "(App Store Connect > App Information > Apple ID)"
        )
    return None


def _root_ca(path: Path, problems: list[str]) -> bytes:
    try:
        der = path.read_bytes()
        x509.load_der_x509_certificate(der)
    except OSError as exc:
        problems.append(f"APPLE_ROOT_CA_PATH {path} cannot be read ({exc.strerror})")
        return b""
    except ValueError:
        problems.append(
            f"APPLE_ROOT_CA_PATH {path} is not a DER certificate; use AppleRootCA-G3.cer "
            "from https://www.apple.com/certificateauthority/"
        )
        return b""
    if path == DEFAULT_ROOT_CA_PATH and hashlib.sha256(der).hexdigest() != APPLE_ROOT_CA_G3_SHA256:
        problems.append(
            f"the packaged {path.name} is not Apple Root CA - G3 (SHA-256 mismatch); "
            "rebuild the package from a clean checkout"
        )
    return der


def _max_body(raw: str, problems: list[str]) -> int:
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    if raw.isdigit() and 1024 <= int(raw) <= 1_048_576:
        return int(raw)
    problems.append(f"MAX_BODY_BYTES must be an integer between 1024 and 1048576, got {raw!r}")
    return DEFAULT_MAX_BODY_BYTES


def _is_safe_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False
