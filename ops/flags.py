"""The migration-mode flag: one SSM parameter per dataset, changed one neighbour step at a time,
with a generation that fences every change.

    postgres -> dual_write -> dual_write_shadow -> dual_write_read_dynamodb -> dynamodb

| mode                       | writes                        | reads                                    |
|----------------------------|-------------------------------|------------------------------------------|
| `postgres`                 | PostgreSQL                    | PostgreSQL                               |
| `dual_write`               | PostgreSQL, then DynamoDB     | PostgreSQL                               |
| `dual_write_shadow`        | PostgreSQL, then DynamoDB     | PostgreSQL; DynamoDB compared and counted |
| `dual_write_read_dynamodb` | PostgreSQL, then DynamoDB     | DynamoDB                                 |
| `dynamodb`                 | DynamoDB                      | DynamoDB                                 |

Every change raises the flag's **generation** (stored with the mode: `{"mode": ..., "generation":
N}`; a plain mode string, as Terraform creates it, is generation 0). The generation is the fence:
- PostgreSQL writers read it from the `migration_fence` row inside their transaction
  (`ops.fence`), which a change rewrites under an exclusive lock, so a PostgreSQL write belongs to
  exactly one generation, and its row version carries it in the high bits (`compose_version`).
- `dynamodb`-mode writers version an item `max(old + 1, generation << GENERATION_SHIFT)`, so their
  versions order after every dual-write version of the key, and they refuse an item written under
  a newer generation than theirs (they are stale: they re-read the flag).
- A reader that cannot re-read the flag once its cache TTL is over fails writes closed
  (`FlagUnavailable`) instead of writing under a mode that may be gone.
The changes into and out of `dynamodb` move the source of truth, so they run only inside the
cutover's fenced protocol (a short write pause, the outbox drained): `ops migrate stop-pg-writes`
and `ops migrate rollback`; `ops flags set` refuses them.

`FlagStore` (operators, the cutover) changes the flag and records it in the control table under
`FLAG#<dataset>` (who, when, from, to, generation, reason); a `CURRENT` item written with a
condition on the previous mode and generation makes two concurrent changes impossible.
`FlagReader` (the application) caches the state for a few seconds.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ops import aws
from ops.control import ConditionFailed, ControlTable
from ops.exceptions import ConfigError, OpsError
from ops.settings import Settings

if TYPE_CHECKING:
    from ops.fence import PgFence

log = logging.getLogger(__name__)

DEFAULT_READER_TTL_SECONDS = 5.0
CURRENT_SK = "CURRENT"
# Row versions: the low bits count PostgreSQL's per-table version sequence (2**44 is 1.7e13
# versions per table, and the schema caps the sequences there); the high bits are the generation.
GENERATION_SHIFT = 44
SEQUENCE_LIMIT = 1 << GENERATION_SHIFT


def compose_version(generation: int, sequence: int) -> int:
    """A row version made under `generation`: after every version of an older generation."""
    return (generation << GENERATION_SHIFT) + sequence


def generation_of(version: int) -> int:
    return version >> GENERATION_SHIFT


class Mode(StrEnum):
    POSTGRES = "postgres"
    DUAL_WRITE = "dual_write"
    DUAL_WRITE_SHADOW = "dual_write_shadow"
    DUAL_WRITE_READ_DYNAMODB = "dual_write_read_dynamodb"
    DYNAMODB = "dynamodb"

    @property
    def step(self) -> int:
        return ORDER.index(self)

    @property
    def writes_postgres(self) -> bool:
        return self is not Mode.DYNAMODB

    @property
    def writes_dynamodb(self) -> bool:
        return self is not Mode.POSTGRES

    @property
    def reads_dynamodb(self) -> bool:
        return self in (Mode.DUAL_WRITE_READ_DYNAMODB, Mode.DYNAMODB)

    @property
    def shadow_reads(self) -> bool:
        return self is Mode.DUAL_WRITE_SHADOW

    @classmethod
    def parse(cls, value: str) -> Mode:
        try:
            return cls(value.strip())
        except ValueError:
            raise ConfigError(
                f"unknown migration mode {value!r}; expected one of: {', '.join(m.value for m in ORDER)}"
            ) from None


ORDER: tuple[Mode, ...] = tuple(Mode)


def mode_path(current: Mode | str, target: Mode | str) -> list[Mode]:
    """The neighbour-by-neighbour modes from `current` to `target` (excluding `current`)."""
    i, j = Mode(current).step, Mode(target).step
    step = 1 if j >= i else -1
    return [ORDER[k] for k in range(i + step, j + step, step)] if i != j else []


def moves_source_of_truth(a: Mode, b: Mode) -> bool:
    """The steps into and out of `dynamodb`: PostgreSQL stops (or starts again) being written."""
    return Mode.DYNAMODB in (a, b) and a != b


@dataclass(frozen=True)
class FlagState:
    """What the flag says: the mode, its generation, and whether writes are paused.

    A pause is how a fenced change holds writers still for a moment (while the outbox drains); it
    carries a deadline so that a crashed cutover cannot stop writes for longer than that: past
    `paused_until` writers carry on in `mode`.
    """

    mode: Mode
    generation: int = 0
    paused: bool = False
    paused_until: float | None = None

    def writes_paused(self, now: float | None = None) -> bool:
        if not self.paused:
            return False
        return self.paused_until is None or (now if now is not None else time.time()) < self.paused_until

    def to_parameter(self) -> str:
        doc: dict[str, Any] = {"mode": self.mode.value, "generation": self.generation}
        if self.paused:
            doc.update(paused=True, paused_until=self.paused_until)
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> FlagState:
        """The parameter's value: JSON as `to_parameter` writes it, or a plain mode (generation 0)."""
        text = text.strip()
        if not text.startswith("{"):
            return cls(Mode.parse(text))
        try:
            doc = json.loads(text)
            until = doc.get("paused_until")
            return cls(
                Mode.parse(str(doc["mode"])),
                int(doc.get("generation", 0)),
                bool(doc.get("paused", False)),
                float(until) if until is not None else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"the migration flag holds {text!r}, which is not a flag value ({exc}); "
                'expected e.g. {"mode": "dual_write", "generation": 3}; fix it with `ops flags set`'
            ) from None

    def describe(self) -> str:
        paused = " (writes paused)" if self.writes_paused() else ""
        return f"{self.mode} (generation {self.generation}){paused}"


class IllegalTransition(OpsError):
    """A flag change that skips a step (or names an unknown mode)."""


class FlagUnavailable(OpsError):
    """The flag cannot be read, and the last value read is too old to write under."""


class WritesPaused(OpsError):
    """Writes are paused for a fenced mode change that takes longer than the writer will wait."""


def check_transition(current: Mode, target: Mode) -> None:
    """Allow only a move to a neighbour; otherwise say which step is missing and what to run."""
    distance = target.step - current.step
    if abs(distance) <= 1:
        return
    step = 1 if distance > 0 else -1
    missing = [ORDER[i] for i in range(current.step + step, target.step, step)]
    direction = "forward" if distance > 0 else "back (rollback)"
    raise IllegalTransition(
        f"refusing to move the flag {direction} from '{current}' to '{target}': the step "
        f"'{missing[0]}' is missing"
        + (f" (and then {', '.join(repr(m.value) for m in missing[1:])})" if len(missing) > 1 else "")
        + f". Modes change one neighbour at a time; run `ops flags set {missing[0]}` first."
    )


@dataclass(frozen=True)
class FlagChange:
    dataset: str
    from_mode: str
    to_mode: str
    who: str
    at: str
    reason: str
    changed: bool = True
    dry_run: bool = False
    generation: int = 0
    paused: bool = False
    fenced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def operator_name() -> str:
    """The OS login: what a change records when its caller names nobody (the CLI always names
    someone: `ops.cli.common.current_operator`)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def _parameter_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ParameterNotFound"


def read_state(ssm: Any, parameter: str) -> FlagState:
    try:
        value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if _parameter_missing(exc):
            return FlagState(Mode.POSTGRES)
        raise
    return FlagState.parse(value)


def read_mode(ssm: Any, parameter: str) -> Mode:
    return read_state(ssm, parameter).mode


def _default_fence(settings: Settings) -> PgFence | None:
    if not settings.prod_database_url:
        return None
    from ops.fence import PgFence

    return PgFence(settings.prod_database_url)


class FlagStore:
    """Read and change the flag of one dataset (SSM + the PostgreSQL fence) and keep its history."""

    def __init__(
        self,
        dataset: str | None = None,
        *,
        settings: Settings,
        ssm: Any = None,
        control: ControlTable | None = None,
        fence: PgFence | bool | None = True,
    ) -> None:
        self.settings = settings
        self.dataset = dataset or self.settings.dataset
        self.parameter = self.settings.flag_parameter(self.dataset)
        self.ssm = ssm or aws.client("ssm")
        self._control = control
        # True: the production database's fence when PROD_DATABASE_URL is set; False/None: no fence.
        self.fence: PgFence | None = _default_fence(self.settings) if fence is True else (fence or None)

    @property
    def control(self) -> ControlTable:
        if self._control is None:
            self._control = ControlTable(self.settings.control_table)
        return self._control

    @property
    def pk(self) -> str:
        return f"FLAG#{self.dataset}"

    def state(self) -> FlagState:
        """The flag as stored; a dataset whose parameter does not exist yet is in `postgres`."""
        stored = read_state(self.ssm, self.parameter)
        # The fence is written before SSM; after an interrupted change it is the newer one.
        fence = self._read_fence()
        if fence is not None and fence.generation > stored.generation:
            return fence
        return stored

    def _read_fence(self) -> FlagState | None:
        if self.fence is None:
            return None
        from ops.fence import FenceMissing

        try:
            return self.fence.read(self.dataset)
        except FenceMissing as exc:
            # A database without the fence table has no fenced writers to hold either; changes
            # that move the source of truth refuse (see _write), the others go on without it.
            log.warning("%s", exc)
            return None

    def get(self) -> Mode:
        return self.state().mode

    def heal(self) -> FlagState:
        """Finish a change that moved the fence but not SSM (interrupted between the two writes):
        SSM is rewritten to the fence's newer state. Returns the state both now hold."""
        stored = read_state(self.ssm, self.parameter)
        fence = self._read_fence()
        if fence is None or fence.generation <= stored.generation:
            return stored
        log.warning("flag %s: SSM (%s) behind the fence (%s); rewriting SSM", self.parameter, stored, fence)
        self.ssm.put_parameter(Name=self.parameter, Value=fence.to_parameter(), Type="String", Overwrite=True)
        return fence

    def set(
        self,
        target: Mode | str,
        *,
        reason: str,
        who: str | None = None,
        dry_run: bool = False,
        gate: Callable[[Mode, Mode], None] | None = None,
        evidence: dict[str, Any] | None = None,
        fenced_protocol: bool = False,
    ) -> FlagChange:
        """Move to a neighbour mode; refuses jumps. Returns what changed (or would, with dry_run).

        Moving into or out of `dynamodb` needs `fenced_protocol=True`: only the cutover's fenced
        steps (which pause writes and drain the outbox around the change) may do it.
        `gate(current, target)` runs after those checks and before anything is written; it raises
        (e.g. GateFailed) to refuse. `evidence` is stored with the history record.
        """
        target = target if isinstance(target, Mode) else Mode.parse(target)
        current = self.state() if dry_run else self.heal()
        if target == current.mode and not current.paused:
            return self._change(current, current, reason, who, dry_run, changed=False)
        check_transition(current.mode, target)
        if moves_source_of_truth(current.mode, target) and not fenced_protocol:
            command = "ops migrate stop-pg-writes" if target is Mode.DYNAMODB else "ops migrate rollback"
            raise IllegalTransition(
                f"refusing to move {self.dataset} from '{current.mode}' to '{target}' with a plain flag "
                f"change: it moves the source of truth, so writers must be fenced and the outbox (or the "
                f"reverse replication) drained around it. Run `{command}`, which does that."
            )
        if gate is not None:
            gate(current.mode, target)
        new = FlagState(target, current.generation + 1)
        return self._write(current, new, reason, who, dry_run, evidence)

    def pause(
        self, *, seconds: float, reason: str, who: str | None = None, dry_run: bool = False
    ) -> FlagChange:
        """Hold every writer still (in the current mode) for at most `seconds`: a new generation with
        `paused`. PostgreSQL writers see it at once through the fence; DynamoDB-only writers within
        their cache TTL (the cutover waits that long before relying on it)."""
        current = self.state() if dry_run else self.heal()
        new = FlagState(current.mode, current.generation + 1, True, time.time() + seconds)
        return self._write(current, new, reason, who, dry_run, None)

    def resume(self, *, reason: str, who: str | None = None, dry_run: bool = False) -> FlagChange:
        """End a pause in the current mode (a new generation); a no-op when writes are not paused."""
        current = self.state() if dry_run else self.heal()
        if not current.paused:
            return self._change(current, current, reason, who, dry_run, changed=False)
        return self._write(
            current, FlagState(current.mode, current.generation + 1), reason, who, dry_run, None
        )

    def rollback(self, *, reason: str, who: str | None = None, dry_run: bool = False) -> FlagChange:
        """Move back one step (e.g. reads back to PostgreSQL); refused in `postgres`."""
        current = self.get()
        if current is Mode.POSTGRES:
            raise IllegalTransition(f"{self.dataset} is already in 'postgres'; there is nothing to roll back")
        return self.set(ORDER[current.step - 1], reason=reason, who=who, dry_run=dry_run)

    def _change(
        self,
        current: FlagState,
        new: FlagState,
        reason: str,
        who: str | None,
        dry_run: bool,
        *,
        changed: bool = True,
    ) -> FlagChange:
        if not reason.strip():
            raise ConfigError("a flag change needs a reason (--reason); it is recorded in the history")
        return FlagChange(
            self.dataset,
            current.mode.value,
            new.mode.value,
            who or operator_name(),
            datetime.now(UTC).isoformat(timespec="microseconds"),
            reason,
            changed,
            dry_run,
            new.generation,
            new.paused,
            self.fence is not None,
        )

    def _write(  # noqa: PLR0917 - private; every caller passes all six
        self,
        current: FlagState,
        new: FlagState,
        reason: str,
        who: str | None,
        dry_run: bool,
        evidence: dict[str, Any] | None,
    ) -> FlagChange:
        from ops.fence import FenceMissing

        fence = self.fence
        if fence is not None and not dry_run:
            try:
                fence.read(self.dataset)
            except FenceMissing as exc:
                if moves_source_of_truth(current.mode, new.mode) or new.paused:
                    raise
                log.warning("changing the flag without a fence: %s", exc)
                fence = None
        if (moves_source_of_truth(current.mode, new.mode) or new.paused) and fence is None:
            raise ConfigError(
                f"moving {self.dataset} from '{current.mode}' to {new.describe()} needs the PostgreSQL "
                "fence (writers must be held): set PROD_DATABASE_URL to the production database"
            )
        change = replace(self._change(current, new, reason, who, dry_run), fenced=fence is not None)
        if dry_run:
            return change
        self.control.ensure()
        record = {
            "mode": new.mode.value,
            "generation": new.generation,
            "paused": new.paused,
            "previous": current.mode.value,
            "who": change.who,
            "at": change.at,
            "reason": reason,
        }
        try:
            self.control.put(
                self.pk,
                CURRENT_SK,
                record,
                condition="attribute_not_exists(pk) OR (#mode = :from AND "
                "(attribute_not_exists(#gen) OR #gen <= :gen))",
                names={"#mode": "mode", "#gen": "generation"},
                values={":from": current.mode.value, ":gen": current.generation},
            )
        except ConditionFailed:
            raise OpsError(
                f"the {self.dataset} flag was changed by someone else while this change ran; "
                "check `ops flags history` and retry"
            ) from None
        # The fence first: PostgreSQL writers follow it within their next transaction, and it is
        # never behind SSM. If SSM then fails, `state()` still reports the fence's newer state and
        # running the same change again completes it. If the fence refuses (moved meanwhile) or
        # cannot be reached, nothing changed: CURRENT goes back to what it said.
        if fence is not None:
            try:
                fence.write(self.dataset, new)
            except Exception:
                back = {**record, "mode": current.mode.value, "generation": current.generation}
                self.control.put(
                    self.pk, CURRENT_SK, {**back, "paused": current.paused, "reason": "not done"}
                )
                raise
        self.ssm.put_parameter(Name=self.parameter, Value=new.to_parameter(), Type="String", Overwrite=True)
        self.control.put(
            self.pk,
            f"CHANGE#{change.at}#{uuid.uuid4().hex[:8]}",
            {
                "dataset": self.dataset,
                "from": current.mode.value,
                "to": new.mode.value,
                "generation": new.generation,
                "paused": new.paused,
                "who": change.who,
                "at": change.at,
                "reason": reason,
                **({"evidence": evidence} if evidence else {}),
            },
        )
        return change

    def history(self) -> list[FlagChange]:
        try:
            records = self.control.query(self.pk, "CHANGE#")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []
            raise
        return [
            FlagChange(
                self.dataset,
                i["from"],
                i["to"],
                i["who"],
                i["at"],
                i["reason"],
                generation=int(i.get("generation", 0)),
                paused=bool(i.get("paused", False)),
            )
            for i in records
        ]


class ModeSource(Protocol):
    """Where a writer learns the flag: `FlagReader` in the application, `FixedMode` in tests."""

    def state(self, *, strict: bool = True) -> FlagState: ...

    def invalidate(self) -> None: ...


class FlagReader:
    """The application's view of the flag: cached for `ttl_seconds`.

    `state(strict=True)` (writes) raises FlagUnavailable once the cache is older than the TTL and SSM
    cannot be read: a writer never acts on a flag that may have changed more than one TTL ago.
    `strict=False` (reads) keeps serving the last state read, logged.
    """

    def __init__(
        self,
        dataset: str | None = None,
        *,
        ttl_seconds: float = DEFAULT_READER_TTL_SECONDS,
        ssm: Any = None,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parameter = settings.flag_parameter(dataset)
        self.ttl_seconds = ttl_seconds
        self._ssm = ssm
        self._clock = clock
        self._lock = threading.Lock()
        self._state: FlagState | None = None
        self._read_at = 0.0
        self.reads = 0
        self.failures = 0

    def state(self, *, strict: bool = True) -> FlagState:
        with self._lock:
            now = self._clock()
            if self._state is not None and now - self._read_at < self.ttl_seconds:
                return self._state
            try:
                if self._ssm is None:
                    self._ssm = aws.client("ssm")
                state = read_state(self._ssm, self.parameter)
            except Exception as exc:
                self.failures += 1
                if self._state is None or strict:
                    age = (
                        "never read" if self._state is None else f"last read {now - self._read_at:.1f} s ago"
                    )
                    raise FlagUnavailable(
                        f"cannot read the migration flag from SSM parameter {self.parameter} ({exc}; {age}, "
                        f"cache TTL {self.ttl_seconds:g} s); refusing to write under a mode that may have "
                        "changed. Check SSM access from this host; writes resume once the flag is readable"
                    ) from exc
                log.warning("migration flag read failed (%s); reads keep %s", exc, self._state.describe())
                return self._state
            if state.mode is Mode.DYNAMODB and state.generation == 0:
                raise FlagUnavailable(
                    f"{self.parameter} says 'dynamodb' without a generation: it was set by hand, not by "
                    "`ops migrate stop-pg-writes`; writes under it could not be ordered after the "
                    "dual-write versions. Put the flag back with `ops flags set` and run the cutover step"
                )
            self.reads += 1
            self._state, self._read_at = state, now
            return state

    def mode(self) -> Mode:
        return self.state(strict=False).mode

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = float("-inf")


class FixedMode:
    """A mode source that never changes by itself (tests, tools that pin a mode explicitly)."""

    def __init__(self, mode: Mode | str, generation: int = 0) -> None:
        self._state = FlagState(mode if isinstance(mode, Mode) else Mode.parse(mode), generation)

    def state(self, *, strict: bool = True) -> FlagState:
        return self._state

    def mode(self) -> Mode:
        return self._state.mode

    def set(self, mode: Mode | str, generation: int | None = None) -> None:
        parsed = mode if isinstance(mode, Mode) else Mode.parse(mode)
        self._state = replace(
            self._state,
            mode=parsed,
            generation=self._state.generation + 1 if generation is None else generation,
        )

    def invalidate(self) -> None:
        """Nothing is cached."""
