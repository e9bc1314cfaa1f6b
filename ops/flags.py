"""The migration-mode flag: one SSM parameter per dataset, changed one neighbour step at a time.

    postgres -> dual_write -> dual_write_shadow -> dual_write_read_dynamodb -> dynamodb

| mode                       | writes                        | reads                                    |
|----------------------------|-------------------------------|------------------------------------------|
| `postgres`                 | PostgreSQL                    | PostgreSQL                               |
| `dual_write`               | PostgreSQL, then DynamoDB     | PostgreSQL                               |
| `dual_write_shadow`        | PostgreSQL, then DynamoDB     | PostgreSQL; DynamoDB compared and counted |
| `dual_write_read_dynamodb` | PostgreSQL, then DynamoDB     | DynamoDB                                 |
| `dynamodb`                 | DynamoDB                      | DynamoDB                                 |

`FlagStore` (operators, the cutover) changes the flag: only to a neighbour, recorded in the control
table under `FLAG#<dataset>` (who, when, from, to, reason); a `CURRENT` item written with a
condition on the previous mode makes two concurrent changes impossible. `FlagReader` (the
application) caches the mode for a few seconds, so after a change wait longer than its TTL
before relying on every instance having switched.
"""

from __future__ import annotations

import getpass
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from ops import aws
from ops.control import ConditionFailed, ControlTable
from ops.exceptions import ConfigError, OpsError
from ops.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_READER_TTL_SECONDS = 5.0
CURRENT_SK = "CURRENT"


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


ORDER: tuple[Mode, ...] = (
    Mode.POSTGRES,
    Mode.DUAL_WRITE,
    Mode.DUAL_WRITE_SHADOW,
    Mode.DUAL_WRITE_READ_DYNAMODB,
    Mode.DYNAMODB,
)


class IllegalTransition(OpsError):
    """A flag change that skips a step (or names an unknown mode)."""


class FlagUnavailable(OpsError):
    """The flag could not be read and no earlier value is cached."""


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def operator_name() -> str:
    return os.environ.get("OPS_OPERATOR") or getpass.getuser()


def _parameter_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ParameterNotFound"


class FlagStore:
    """Read and change the mode of one dataset (SSM) and keep its history (control table)."""

    def __init__(
        self,
        dataset: str | None = None,
        *,
        ssm: Any = None,
        control: ControlTable | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.dataset = dataset or self.settings.dataset
        self.parameter = self.settings.flag_parameter(self.dataset)
        self.ssm = ssm or aws.client("ssm")
        self._control = control

    @property
    def control(self) -> ControlTable:
        if self._control is None:
            self._control = ControlTable()
        return self._control

    @property
    def pk(self) -> str:
        return f"FLAG#{self.dataset}"

    def get(self) -> Mode:
        """The current mode; a dataset whose parameter does not exist yet is in `postgres`."""
        return read_mode(self.ssm, self.parameter)

    def set(
        self,
        target: Mode | str,
        *,
        reason: str,
        who: str | None = None,
        dry_run: bool = False,
        gate: Callable[[Mode, Mode], None] | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> FlagChange:
        """Move to a neighbour mode; refuses jumps. Returns what changed (or would, with dry_run).

        `gate(current, target)` runs after the neighbour check and before anything is written; it
        raises (e.g. GateFailed) to refuse. `evidence` is stored with the history record.
        """
        target = target if isinstance(target, Mode) else Mode.parse(target)
        if not reason.strip():
            raise ConfigError("a flag change needs a reason (--reason); it is recorded in the history")
        current = self.get()
        actor = who or operator_name()
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        change = FlagChange(
            self.dataset, current.value, target.value, actor, at, reason, target != current, dry_run
        )
        if target == current:
            return change
        check_transition(current, target)
        if gate is not None:
            gate(current, target)
        if dry_run:
            return change
        self.control.ensure()
        try:
            self.control.put(
                self.pk,
                CURRENT_SK,
                {"mode": target.value, "previous": current.value, "who": actor, "at": at, "reason": reason},
                condition="attribute_not_exists(pk) OR #mode = :from",
                names={"#mode": "mode"},
                values={":from": current.value},
            )
        except ConditionFailed:
            raise OpsError(
                f"the {self.dataset} flag was changed by someone else while this change ran; "
                "check `ops flags history` and retry"
            ) from None
        try:
            self.ssm.put_parameter(Name=self.parameter, Value=target.value, Type="String", Overwrite=True)
        except ClientError:
            # The parameter is what the application reads: keep CURRENT in step with it.
            self.control.put(
                self.pk,
                CURRENT_SK,
                {
                    "mode": current.value,
                    "previous": target.value,
                    "who": actor,
                    "at": at,
                    "reason": "rolled back",
                },
            )
            raise
        self.control.put(
            self.pk,
            f"CHANGE#{at}#{uuid.uuid4().hex[:8]}",
            {
                "dataset": self.dataset,
                "from": current.value,
                "to": target.value,
                "who": actor,
                "at": at,
                "reason": reason,
                **({"evidence": evidence} if evidence else {}),
            },
        )
        return change

    def rollback(self, *, reason: str, who: str | None = None, dry_run: bool = False) -> FlagChange:
        """Move back one step (e.g. reads back to PostgreSQL); refused in `postgres`."""
        current = self.get()
        if current is Mode.POSTGRES:
            raise IllegalTransition(f"{self.dataset} is already in 'postgres'; there is nothing to roll back")
        return self.set(ORDER[current.step - 1], reason=reason, who=who, dry_run=dry_run)

    def history(self) -> list[FlagChange]:
        try:
            records = self.control.query(self.pk, "CHANGE#")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []
            raise
        return [FlagChange(self.dataset, i["from"], i["to"], i["who"], i["at"], i["reason"]) for i in records]


def read_mode(ssm: Any, parameter: str) -> Mode:
    try:
        value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if _parameter_missing(exc):
            return Mode.POSTGRES
        raise
    return Mode.parse(value)


class FlagReader:
    """The application's view of the mode: cached for `ttl_seconds`, stale-but-known on SSM errors."""

    def __init__(
        self,
        dataset: str | None = None,
        *,
        ttl_seconds: float = DEFAULT_READER_TTL_SECONDS,
        ssm: Any = None,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = settings or Settings.from_env()
        self.parameter = settings.flag_parameter(dataset)
        self.ttl_seconds = ttl_seconds
        self._ssm = ssm
        self._clock = clock
        self._lock = threading.Lock()
        self._mode: Mode | None = None
        self._read_at = 0.0
        self.reads = 0

    def mode(self) -> Mode:
        with self._lock:
            now = self._clock()
            if self._mode is not None and now - self._read_at < self.ttl_seconds:
                return self._mode
            try:
                if self._ssm is None:
                    self._ssm = aws.client("ssm")
                mode = read_mode(self._ssm, self.parameter)
            except Exception as exc:
                if self._mode is None:
                    raise FlagUnavailable(
                        f"cannot read the migration mode from SSM parameter {self.parameter} ({exc}); "
                        "check SSM access from this host"
                    ) from exc
                log.warning("migration mode read failed (%s); keeping %s", exc, self._mode)
                self._read_at = now
                return self._mode
            self.reads += 1
            self._mode, self._read_at = mode, now
            return mode

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = float("-inf")


class FixedMode:
    """A mode source that never changes (tests, tools that pin a mode explicitly)."""

    def __init__(self, mode: Mode | str) -> None:
        self._mode = mode if isinstance(mode, Mode) else Mode.parse(mode)

    def mode(self) -> Mode:
        return self._mode

    def set(self, mode: Mode | str) -> None:
        self._mode = mode if isinstance(mode, Mode) else Mode.parse(mode)
