"""`replay-apple`: Get Notification History through Apple's library (JWT, pagination) against the
test kit's fake App Store Server API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import opstestkit as kit
import pytest
from opstestkit.fake_app_store import AppleSubscription, FakeAppStore, KeyCredentials

from ops.exceptions import ConfigError, OpsError
from ops.notifications.replay import load_key, notification_history


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
    fetched = list(
        notification_history(store.api_client(), now - timedelta(days=2), now + timedelta(minutes=1))
    )
    assert fetched == sent
    assert [p for m, p in store.requests if p.endswith("/history")] == [
        "/inApps/v1/notifications/history"
    ] * 3


def test_a_token_from_another_key_is_refused_with_a_clear_error(store: FakeAppStore) -> None:
    store.notify("DID_RENEW", None, "2000000000000001")
    now = datetime.now(UTC)
    with pytest.raises(OpsError, match="401"):
        list(notification_history(store.api_client(KeyCredentials()), now - timedelta(days=1), now))


def test_bad_ranges_and_missing_credentials_are_explained(store: FakeAppStore, tmp_path: Path) -> None:
    api = store.api_client()
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
