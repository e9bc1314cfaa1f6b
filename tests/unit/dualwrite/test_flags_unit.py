"""Mode transitions and the application's cached reader, without the stack."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from opstestkit.clock import ManualClock

from ops.flags import (
    ORDER,
    FlagReader,
    FlagState,
    FlagUnavailable,
    IllegalTransition,
    Mode,
    check_transition,
)
from ops.settings import Settings


@pytest.mark.parametrize(("a", "b"), [(ORDER[i], ORDER[i + 1]) for i in range(len(ORDER) - 1)])
def test_neighbours_are_allowed_both_ways(a: Mode, b: Mode) -> None:
    check_transition(a, b)
    check_transition(b, a)


def test_a_jump_names_the_missing_step() -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition(Mode.POSTGRES, Mode.DUAL_WRITE_SHADOW)
    assert "'dual_write' is missing" in str(err.value)
    assert "ops flags set dual_write" in str(err.value)


def test_a_long_rollback_jump_names_every_missing_step() -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition(Mode.DYNAMODB, Mode.DUAL_WRITE)
    message = str(err.value)
    assert "'dual_write_read_dynamodb' is missing" in message
    assert "'dual_write_shadow'" in message
    assert "rollback" in message


def test_routing_properties_per_mode() -> None:
    routing = {m: (m.writes_postgres, m.writes_dynamodb, m.reads_dynamodb, m.shadow_reads) for m in ORDER}
    assert routing == {
        Mode.POSTGRES: (True, False, False, False),
        Mode.DUAL_WRITE: (True, True, False, False),
        Mode.DUAL_WRITE_SHADOW: (True, True, False, True),
        Mode.DUAL_WRITE_READ_DYNAMODB: (True, True, True, False),
        Mode.DYNAMODB: (False, True, True, False),
    }


class FakeSSM:
    def __init__(self, value: str | None) -> None:
        self.value = value
        self.calls = 0
        self.fail = False

    def get_parameter(self, Name: str) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetParameter"
            )
        if self.value is None:
            raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": "no"}}, "GetParameter")
        return {"Parameter": {"Value": self.value}}


def test_reader_caches_for_its_ttl_and_then_rereads() -> None:
    ssm, clock = FakeSSM("dual_write"), ManualClock(100.0)
    reader = FlagReader("answers", ttl_seconds=5, ssm=ssm, settings=Settings.from_env(), clock=clock)
    assert reader.mode() is Mode.DUAL_WRITE
    ssm.value = "dual_write_shadow"
    clock.now += 4.9
    assert reader.mode() is Mode.DUAL_WRITE
    assert ssm.calls == 1
    clock.now += 0.2
    assert reader.mode() is Mode.DUAL_WRITE_SHADOW
    assert ssm.calls == 2


def test_a_writer_that_cannot_reread_the_flag_after_its_ttl_fails_closed() -> None:
    """Writes never run under a flag that may have changed more than one TTL ago; reads keep
    serving the last state read (they cannot lose data)."""
    ssm, clock = FakeSSM("dual_write"), ManualClock(100.0)
    reader = FlagReader("answers", ttl_seconds=5, ssm=ssm, clock=clock, settings=Settings.from_env())
    assert reader.state().mode is Mode.DUAL_WRITE
    ssm.fail = True
    clock.now += 4.9
    assert reader.state().mode is Mode.DUAL_WRITE  # still inside the TTL: no read needed
    clock.now += 0.2
    with pytest.raises(FlagUnavailable, match="refusing to write"):
        reader.state()
    assert reader.mode() is Mode.DUAL_WRITE  # reads (strict=False) keep the last known mode
    ssm.fail = False
    ssm.value = '{"mode": "dual_write_shadow", "generation": 2}'
    assert reader.state() == FlagState(Mode.DUAL_WRITE_SHADOW, 2)


@pytest.mark.parametrize(
    ("stored", "state"),
    [
        ("postgres", FlagState(Mode.POSTGRES, 0)),
        (" dual_write\n", FlagState(Mode.DUAL_WRITE, 0)),
        ('{"mode": "dynamodb", "generation": 7}', FlagState(Mode.DYNAMODB, 7)),
        (
            '{"mode": "dual_write_read_dynamodb", "generation": 6, "paused": true, "paused_until": 100.5}',
            FlagState(Mode.DUAL_WRITE_READ_DYNAMODB, 6, True, 100.5),
        ),
    ],
)
def test_flag_values_parse_and_round_trip(stored: str, state: FlagState) -> None:
    assert FlagState.parse(stored) == state
    assert FlagState.parse(state.to_parameter()) == state


def test_a_garbled_flag_value_is_a_clear_error() -> None:
    from ops.exceptions import ConfigError

    with pytest.raises(ConfigError, match="not a flag value"):
        FlagState.parse('{"generation": 3}')


def test_a_pause_ends_at_its_deadline() -> None:
    paused = FlagState(Mode.DUAL_WRITE_READ_DYNAMODB, 4, True, 1000.0)
    assert paused.writes_paused(999.0) and not paused.writes_paused(1000.0)


def test_versions_of_a_newer_generation_order_after_every_older_one() -> None:
    from ops.flags import SEQUENCE_LIMIT, compose_version, generation_of

    oldest_of_newer = compose_version(3, 0)
    newest_of_older = compose_version(2, SEQUENCE_LIMIT - 1)
    assert newest_of_older < oldest_of_newer
    assert generation_of(oldest_of_newer) == 3 and generation_of(newest_of_older) == 2


def test_reader_without_any_known_mode_refuses_to_guess() -> None:
    ssm = FakeSSM("dual_write")
    ssm.fail = True
    with pytest.raises(FlagUnavailable, match="SSM"):
        FlagReader("answers", ssm=ssm, settings=Settings.from_env()).mode()


def test_missing_parameter_means_postgres() -> None:
    assert FlagReader("answers", ssm=FakeSSM(None), settings=Settings.from_env()).mode() is Mode.POSTGRES
