"""`replay-apple`: the App Store Server API client (JWT, pagination) against a local fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ops.exceptions import ConfigError, OpsError
from ops.notifications.replay import AppStoreCredentials, AppStoreServerClient
from tests.fixtures.notifications.consumer.fake_appstore import FakeAppStore

NOW = datetime.now(UTC)


@pytest.fixture
def key_file(tmp_path: Path) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "SubscriptionKey_ABC123DEFG.p8"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path, key


def credentials(path: Path) -> AppStoreCredentials:
    return AppStoreCredentials.from_files(
        issuer_id="57246542-96fe-1a63-e053-0824d011072a",
        key_id="ABC123DEFG",
        key_path=path,
        bundle_id="com.example.couplediary",
    )


def test_history_is_fetched_page_by_page_with_a_valid_token(
    key_file: tuple[Path, ec.EllipticCurvePrivateKey],
) -> None:
    path, key = key_file
    payloads = [f"payload-{i}" for i in range(5)]
    with FakeAppStore(
        payloads,
        key.public_key(),
        key_id="ABC123DEFG",
        issuer_id="57246542-96fe-1a63-e053-0824d011072a",
        bundle_id="com.example.couplediary",
    ) as store:
        client = AppStoreServerClient(credentials(path), base_url=store.url)
        assert list(client.notification_history(NOW - timedelta(days=2), NOW)) == payloads
    assert [r["start"] for r in store.requests] == [0, 2, 4]
    assert store.requests[0]["body"]["startDate"] == int((NOW - timedelta(days=2)).timestamp() * 1000)


def test_a_token_from_another_key_is_refused_with_a_clear_error(
    key_file: tuple[Path, ec.EllipticCurvePrivateKey],
) -> None:
    path, _key = key_file
    other = ec.generate_private_key(ec.SECP256R1())
    with FakeAppStore(
        ["p"],
        other.public_key(),
        key_id="ABC123DEFG",
        issuer_id="57246542-96fe-1a63-e053-0824d011072a",
        bundle_id="com.example.couplediary",
    ) as store:
        client = AppStoreServerClient(credentials(path), base_url=store.url)
        with pytest.raises(OpsError, match="401"):
            list(client.notification_history(NOW - timedelta(days=1), NOW))


def test_bad_ranges_and_missing_credentials_are_explained(
    key_file: tuple[Path, ec.EllipticCurvePrivateKey],
) -> None:
    client = AppStoreServerClient(credentials(key_file[0]), base_url="http://127.0.0.1:9")
    with pytest.raises(OpsError, match="180 days"):
        list(client.notification_history(NOW - timedelta(days=200), NOW))
    with pytest.raises(OpsError, match="before"):
        list(client.notification_history(NOW, NOW - timedelta(days=1)))
    with pytest.raises(ConfigError, match="key id"):
        AppStoreCredentials.from_files(issuer_id="i", key_id="", key_path=key_file[0], bundle_id="b")
    with pytest.raises(ConfigError, match="cannot read"):
        AppStoreCredentials.from_files(
            issuer_id="i", key_id="k", key_path=Path("/nonexistent.p8"), bundle_id="b"
        )
