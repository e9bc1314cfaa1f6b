"""`replay-apple`: Get Notification History through Apple's library (JWT, pagination) against the
test kit's fake App Store Server API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import opstestkit as kit
import pytest
from opstestkit.fake_app_store import AppleSubscription, FakeAppStore, KeyCredentials

from lambdas.consumer.apple.store_api import AppStoreApi, AppStoreKey
from ops.exceptions import ConfigError, OpsError
from ops.notifications.replay import load_key, notification_history


def api_for(store: FakeAppStore, key: KeyCredentials | None = None) -> AppStoreApi:
    key = key or store.key
    return AppStoreApi(
        AppStoreKey(key.key_id, key.issuer_id, key.private_key_pem),
        bundle_id=store.bundle_id,
        app_apple_id=store.app_apple_id,
        environment="Sandbox",
        root_certificates=[store.ca.root_der],
        base_url=store.base_url,
    )


@pytest.fixture
def store() -> FakeAppStore:
    ca = kit.make_apple_test_ca()
    with FakeAppStore(ca, page_size=2) as fake:
        fake.subscriptions["2000000000000001"] = AppleSubscription(
            "2000000000000001",
            "com.example.couplediary.premium.monthly",
            None,
            kit.now_ms(),
            kit.now_ms() + 10**9,
        )
        yield fake


def test_history_is_fetched_page_by_page_with_a_valid_token(store: FakeAppStore) -> None:
    sent = [store.notify("DID_RENEW", None, "2000000000000001") for _ in range(5)]
    now = datetime.now(UTC)
    fetched = list(notification_history(api_for(store), now - timedelta(days=2), now + timedelta(minutes=1)))
    assert fetched == sent
    assert [p for m, p in store.requests if p.endswith("/history")] == [
        "/inApps/v1/notifications/history"
    ] * 3


def test_a_token_from_another_key_is_refused_with_a_clear_error(store: FakeAppStore) -> None:
    store.notify("DID_RENEW", None, "2000000000000001")
    now = datetime.now(UTC)
    with pytest.raises(OpsError, match="401"):
        list(notification_history(api_for(store, KeyCredentials()), now - timedelta(days=1), now))


def test_bad_ranges_and_missing_credentials_are_explained(store: FakeAppStore, tmp_path: Path) -> None:
    api = api_for(store)
    now = datetime.now(UTC)
    with pytest.raises(OpsError, match="180 days"):
        list(notification_history(api, now - timedelta(days=200), now))
    with pytest.raises(OpsError, match="before"):
        list(notification_history(api, now, now - timedelta(days=1)))
    key_path = tmp_path / "AuthKey.p8"
    key_path.write_bytes(store.key.private_key_pem)
    with pytest.raises(ConfigError, match="key id"):
        load_key(issuer_id="i", key_id="", key_path=key_path, bundle_id="b")
    with pytest.raises(ConfigError, match="cannot read"):
        load_key(issuer_id="i", key_id="k", key_path=Path("/nonexistent.p8"), bundle_id="b")
    assert load_key(issuer_id="i", key_id="k", key_path=key_path, bundle_id="b").private_key_pem.startswith(
        b"---"
    )
