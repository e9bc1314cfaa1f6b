"""Receiver configuration: a clear error for each bad value (ENV_VARS: tests/unit/core)."""

from __future__ import annotations

from pathlib import Path

import opstestkit as kit
import pytest

from lambdas.receiver import config as config_module
from lambdas.receiver.config import ReceiverConfig
from lambdas.shared.exceptions import ConfigurationError


def test_a_complete_environment_parses(receiver_env: dict[str, str]) -> None:
    config = ReceiverConfig.from_env(receiver_env)
    assert config.apple_app_apple_id == kit.DEFAULT_APP_APPLE_ID
    assert config.apple_online_checks is False
    assert config.max_body_bytes == config_module.DEFAULT_MAX_BODY_BYTES
    assert config.log_level == "INFO"


def test_defaults_pin_the_shipped_apple_root(receiver_env: dict[str, str]) -> None:
    env = {k: v for k, v in receiver_env.items() if k not in {"APPLE_ROOT_CA_PATH", "GOOGLE_JWKS_URL"}}
    config = ReceiverConfig.from_env(env)
    assert config.apple_root_ca_path == config_module.DEFAULT_ROOT_CA_PATH
    assert config.google_jwks_url == "https://www.googleapis.com/oauth2/v3/certs"
    shipped = (
        Path(__file__).resolve().parents[2] / "fixtures/notifications/apple/AppleRootCA-G3.cer"
    ).read_bytes()
    assert config.apple_root_ca_der == shipped


def test_a_tampered_shipped_root_is_refused(
    receiver_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    impostor = tmp_path / "AppleRootCA-G3.cer"
    impostor.write_bytes(kit.make_apple_test_ca().root_der)
    monkeypatch.setattr(config_module, "DEFAULT_ROOT_CA_PATH", impostor)
    env = {k: v for k, v in receiver_env.items() if k != "APPLE_ROOT_CA_PATH"}
    with pytest.raises(ConfigurationError, match="not Apple Root CA - G3"):
        ReceiverConfig.from_env(env)


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as info:
        ReceiverConfig.from_env({})
    message = str(info.value)
    for name in (
        "NOTIFICATIONS_QUEUE_URL",
        "APPLE_BUNDLE_ID",
        "APPLE_ENVIRONMENT",
        "GOOGLE_PACKAGE_NAME",
        "GOOGLE_PUBSUB_AUDIENCE",
        "GOOGLE_PUSH_SERVICE_ACCOUNT",
    ):
        assert f"{name} is required" in message
    assert "Set these environment variables" in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"NOTIFICATIONS_QUEUE_URL": "https://sqs/123/standard-queue"}, "must name a FIFO queue"),
        ({"APPLE_ENVIRONMENT": "Xcode"}, "APPLE_ENVIRONMENT must be Production or Sandbox"),
        ({"APPLE_ENVIRONMENT": "Production", "APPLE_APP_APPLE_ID": ""}, "APPLE_APP_APPLE_ID is required"),
        ({"APPLE_APP_APPLE_ID": "12ab"}, "APPLE_APP_APPLE_ID must be the numeric"),
        ({"APPLE_ONLINE_CHECKS": "maybe"}, "APPLE_ONLINE_CHECKS must be true or false"),
        ({"APPLE_ROOT_CA_PATH": "/nonexistent/root.cer"}, "cannot be read"),
        (
            {"GOOGLE_JWKS_URL": "http://www.googleapis.com/oauth2/v3/certs"},
            "GOOGLE_JWKS_URL must be an https",
        ),
        ({"GOOGLE_JWKS_URL": "ftp://127.0.0.1/certs"}, "GOOGLE_JWKS_URL must be an https"),
        ({"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES must be an integer between"),
        ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES must be an integer between"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of"),
    ],
)
def test_bad_values_get_a_clear_error(
    receiver_env: dict[str, str], overrides: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        ReceiverConfig.from_env({**receiver_env, **overrides})


def test_root_that_is_not_a_der_certificate(receiver_env: dict[str, str], tmp_path: Path) -> None:
    pem = tmp_path / "root.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match="is not a DER certificate"):
        ReceiverConfig.from_env({**receiver_env, "APPLE_ROOT_CA_PATH": str(pem)})


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("ON", True), ("false", False), ("", False)]
)
def test_online_checks_flag(receiver_env: dict[str, str], raw: str, expected: bool) -> None:
    assert (
        ReceiverConfig.from_env({**receiver_env, "APPLE_ONLINE_CHECKS": raw}).apple_online_checks is expected
    )


def test_production_with_app_id_and_loopback_jwks(receiver_env: dict[str, str]) -> None:
    config = ReceiverConfig.from_env(
        {
            **receiver_env,
            "APPLE_ENVIRONMENT": "Production",
            "GOOGLE_JWKS_URL": "http://localhost:8080/certs",
            "MAX_BODY_BYTES": "131072",
            "LOG_LEVEL": "debug",
        }
    )
    assert config.apple_environment == "Production"
    assert config.max_body_bytes == 131072
    assert config.log_level == "DEBUG"
