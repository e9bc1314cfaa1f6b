"""The trust the local pipeline gets from the test kit: its CA, Google key, fake Play and App Store."""

from __future__ import annotations

from ops.notifications.local import AppStoreApi, LocalTrust
from opstestkit.fake_app_store import FakeAppStore
from opstestkit.fake_play import FakePlay
from opstestkit.identity import SigningIdentity


def local_trust(identity: SigningIdentity, fake_play: FakePlay, app_store: FakeAppStore | None) -> LocalTrust:
    return LocalTrust(
        apple_root_der=identity.apple_ca.root_der,
        google_jwks=identity.google.jwks(),
        play_credentials=fake_play.credentials_info(),
        play_api_root=fake_play.api_root,
        app_store=None
        if app_store is None
        else AppStoreApi(
            url=app_store.base_url,
            key_id=app_store.key.key_id,
            issuer_id=app_store.key.issuer_id,
            private_key_pem=app_store.key.private_key_pem,
        ),
    )
