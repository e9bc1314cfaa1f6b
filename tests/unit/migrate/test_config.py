"""Gate thresholds come from the environment and can be overridden per command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ops.exceptions import ConfigError
from ops.migrate.config import DAY, MigrateConfig
from ops.settings import Settings


def test_defaults_are_the_documented_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Defaults only: nothing from the session's environment (the local stack sets some OPS_* values).
    for name in [n for n in os.environ if n.startswith("OPS_")]:
        monkeypatch.delenv(name, raising=False)
    cfg = MigrateConfig.from_env(Settings.from_env())
    assert cfg.soak_seconds == 14 * DAY
    assert cfg.verify_max_age_hours == 24
    assert cfg.replica_max_lag_seconds == 30
    assert cfg.shadow_max_mismatches == 0
    assert cfg.alarm_prefixes == ("platform-ops-",)
    assert cfg.v2_rds_instance is None
    assert cfg.accept_unmeasurable_pitr is False


def test_the_environment_and_overrides_set_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_SOAK_SECONDS", "5")
    monkeypatch.setenv("OPS_ALARM_PREFIXES", "a-, b-")
    monkeypatch.setenv("OPS_SNAPSHOT_DIR", "/tmp/snaps")
    cfg = MigrateConfig.from_env(Settings.from_env())
    assert cfg.soak_seconds == 5
    assert cfg.alarm_prefixes == ("a-", "b-")
    assert cfg.snapshot_dir == Path("/tmp/snaps")
    # A command option wins over the environment; None means "not given".
    assert (
        MigrateConfig.from_env(Settings.from_env(), soak_seconds=60.0, snapshot_dir=None).soak_seconds == 60
    )
    assert MigrateConfig.from_env(Settings.from_env(), snapshot_dir=None).snapshot_dir == Path("/tmp/snaps")


def test_a_bad_threshold_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_SOAK_SECONDS", "two weeks")
    with pytest.raises(ConfigError, match="OPS_SOAK_SECONDS='two weeks' is not a number") as info:
        MigrateConfig.from_env(Settings.from_env())
    assert info.value.exit_code == 2
