"""The consumer's configuration, validated at once with clear errors (ENV_VARS: tests/unit/core)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas.consumer.config import ConsumerConfig
from lambdas.shared.exceptions import ConfigurationError

LOCAL = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/diary",
    "GOOGLE_PACKAGE_NAME": "com.example.couplediary",
    "GOOGLE_PLAY_CREDENTIALS_FILE": "/nonexistent/sa.json",
    "APPLE_LIFETIME_PRODUCT_IDS": "com.example.lifetime, com.example.lifetime2 ,",
}


def test_app_store_api_is_off_without_a_key_and_checked_with_one(tmp_path: Path) -> None:
    assert ConsumerConfig.from_env(LOCAL).app_store is None
    with pytest.raises(ConfigurationError, match="APPLE_CONSUMPTION_RESPONSE=on needs"):
        ConsumerConfig.from_env({**LOCAL, "APPLE_CONSUMPTION_RESPONSE": "on"})
    key = {**LOCAL, "APP_STORE_API_KEY_FILE": str(tmp_path / "key.json")}
    with pytest.raises(ConfigurationError) as error:
        ConsumerConfig.from_env(
            {
                **key,
                "APPLE_ENVIRONMENT": "Production",
                "APP_STORE_API_URL": "http://evil.example",
                "APPLE_REFUND_PREFERENCE": "maybe",
            }
        )
    message = str(error.value)
    for expected in (
        "APPLE_BUNDLE_ID is required",
        "APPLE_APP_APPLE_ID is required",
        "APP_STORE_API_URL must be https",
        "APPLE_REFUND_PREFERENCE must be one of",
    ):
        assert expected in message
    config = ConsumerConfig.from_env(
        {
            **key,
            "APPLE_ENVIRONMENT": "Sandbox",
            "APPLE_BUNDLE_ID": "com.example.couplediary",
            "APPLE_CONSUMPTION_RESPONSE": "on",
            "APPLE_REFUND_PREFERENCE": "decline",
        }
    )
    assert config.app_store is not None
    assert (config.app_store.answer_consumption, config.app_store.refund_preference) == (True, "DECLINE")
    api = config.app_store.api()  # cold start does not read the key ...
    with pytest.raises(ConfigurationError, match="App Store Server API key"):
        api.client  # noqa: B018 - ... the first call does, and says what to store


def test_local_configuration_with_defaults() -> None:
    config = ConsumerConfig.from_env(LOCAL)
    assert config.database_url == LOCAL["DATABASE_URL"]
    assert config.apple_lifetime_product_ids == frozenset({"com.example.lifetime", "com.example.lifetime2"})
    assert config.google_lifetime_product_ids == frozenset()
    assert (config.idempotency_days, config.log_level, config.google_play_api_root) == (7, "INFO", None)


def test_secrets_come_from_secrets_manager_on_aws(tmp_path: Path) -> None:
    secrets = {
        "arn:db": "postgresql://app@db.internal:5432/diary",
        "arn:play": json.dumps({"type": "service_account", "client_email": "x@y"}),
    }
    env = {
        "DATABASE_SECRET_ARN": "arn:db",
        "GOOGLE_PACKAGE_NAME": "com.example.couplediary",
        "GOOGLE_PLAY_CREDENTIALS_SECRET_ARN": "arn:play",
    }
    config = ConsumerConfig.from_env(env, read_secret=secrets.__getitem__)
    assert config.database_url == secrets["arn:db"]
    assert config.google_credentials(read_secret=secrets.__getitem__)["client_email"] == "x@y"


def test_every_problem_is_reported_at_once() -> None:
    env = {
        "GOOGLE_PLAY_API_ROOT": "http://play.example.com/",
        "IDEMPOTENCY_DAYS": "3",
        "LOG_LEVEL": "chatty",
    }
    with pytest.raises(ConfigurationError) as info:
        ConsumerConfig.from_env(env)
    message = str(info.value)
    for expected in (
        "DATABASE_SECRET_ARN (or DATABASE_URL locally) is required",
        "GOOGLE_PLAY_CREDENTIALS_SECRET_ARN",
        "GOOGLE_PACKAGE_NAME is required",
        "GOOGLE_PLAY_API_ROOT must be https",
        "IDEMPOTENCY_DAYS must be an integer >= 7",
        "LOG_LEVEL must be one of",
    ):
        assert expected in message


def test_unreadable_or_wrong_credentials_are_explained(tmp_path: Path) -> None:
    config = ConsumerConfig.from_env(LOCAL)
    with pytest.raises(ConfigurationError, match="cannot be loaded"):
        config.google_credentials()
    not_a_key = tmp_path / "sa.json"
    not_a_key.write_text(json.dumps({"type": "authorized_user"}))
    config = ConsumerConfig.from_env({**LOCAL, "GOOGLE_PLAY_CREDENTIALS_FILE": str(not_a_key)})
    with pytest.raises(ConfigurationError, match="not a service-account"):
        config.google_credentials()
