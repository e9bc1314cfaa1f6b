"""The ledger in a control table (in-process moto): records, history, and the operator lock."""

from __future__ import annotations

import pytest

from ops.control import ControlTable
from ops.migrate.ledger import Ledger, LedgerBusy, LedgerUnavailable
from ops.migrate.phases import Phase, PhaseState, Position


def test_position_is_the_furthest_phase_not_rolled_back(control: ControlTable) -> None:
    ledger = Ledger(control, "answers")
    assert ledger.position() == Position(None, None)
    ledger.set_phase(Phase.PREFLIGHT, PhaseState.DONE, "alice", {"gate": "ok"}, started=True)
    ledger.set_phase(Phase.DUAL_WRITE, PhaseState.RUNNING, "alice", started=True)
    assert ledger.position() == Position(Phase.DUAL_WRITE, PhaseState.RUNNING)
    ledger.set_phase(Phase.DUAL_WRITE, PhaseState.ROLLED_BACK, "bob")
    assert ledger.position() == Position(Phase.PREFLIGHT, PhaseState.DONE)


def test_a_record_keeps_operator_times_evidence_and_run_count(control: ControlTable) -> None:
    ledger = Ledger(control, "answers")
    first = ledger.set_phase(Phase.BACKFILL, PhaseState.RUNNING, "alice", {"rows": 1.5}, started=True)
    assert first.started_at and first.ended_at is None and first.runs == 1
    done = ledger.set_phase(Phase.BACKFILL, PhaseState.DONE, "alice", {"segments": 8})
    assert done.started_at == first.started_at
    assert done.ended_at is not None
    stored = ledger.record(Phase.BACKFILL)
    assert stored is not None
    assert stored.evidence == {"rows": 1.5, "segments": 8}
    assert stored.operator == "alice" and stored.state == PhaseState.DONE
    again = ledger.set_phase(Phase.BACKFILL, PhaseState.RUNNING, "bob", started=True)
    assert again.runs == 2 and again.evidence == {}


def test_history_is_in_time_order_and_per_dataset(control: ControlTable) -> None:
    ledger = Ledger(control, "answers")
    other = Ledger(control, "other")
    ledger.event(Phase.PREFLIGHT, "start", "running", "alice")
    ledger.event(Phase.PREFLIGHT, "gate", "done", "alice", detail="passed", evidence={"ok": True})
    other.event(Phase.PREFLIGHT, "start", "running", "carol")
    events = ledger.history()
    assert [e.action for e in events] == ["start", "gate"]
    assert events[1].evidence == {"ok": True}
    assert [e.operator for e in other.history()] == ["carol"]


def test_two_operators_cannot_hold_the_ledger_at_once(control: ControlTable) -> None:
    ledger = Ledger(control, "answers")
    with ledger.hold(Phase.BACKFILL, "alice"):
        assert ledger.lock_holder() == {"operator": "alice", "phase": "backfill"}
        busy = pytest.raises(LedgerBusy, match="alice is running 'backfill'")
        with busy, ledger.hold(Phase.BACKFILL, "bob"):
            pass
    assert ledger.lock_holder() is None
    with ledger.hold(Phase.VERIFY, "bob"):
        assert ledger.lock_holder() == {"operator": "bob", "phase": "verify"}


def test_an_expired_lock_can_be_taken_over(control: ControlTable) -> None:
    crashed = Ledger(control, "answers", lock_ttl_seconds=-5)
    crashed._acquire("alice#x", "backfill", "alice")
    with Ledger(control, "answers").hold(Phase.BACKFILL, "bob"):
        assert Ledger(control, "answers").lock_holder() == {"operator": "bob", "phase": "backfill"}


def test_a_missing_control_table_is_an_operator_error(control: ControlTable) -> None:
    ledger = Ledger(ControlTable("no-such-table", control.client), "answers")
    with pytest.raises(
        LedgerUnavailable, match="no-such-table does not exist; create it with `terraform apply`"
    ):
        ledger.position()
