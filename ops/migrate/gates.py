"""The gates of the cutover that are not owned by another package: preflight, dual-write
(outbox and shadow reads), alarms, flag propagation and the soak. The replica, backfill and
verify gates come from their packages (see `ops.migrate.adapters`).

Each check records what it measured, the threshold, and the command that fixes it; a check that
cannot even be measured (a service unreachable) fails with the error as its measurement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ops.control import ControlTable
from ops.exceptions import OpsError
from ops.migrate import adapters
from ops.migrate.config import DAY, MigrateConfig
from ops.migrate.ledger import Ledger, parse_time
from ops.migrate.phases import Phase, PhaseState
from ops.results import Check, GateResult


def _probe(name: str, threshold: str, fix: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as exc:
        return Check(name, False, f"error: {adapters.describe_error(exc)}", threshold, fix)


def flag_matches(cfg: MigrateConfig, expected: str) -> Check:
    name = "flag matches ledger"
    fix = f"ops migrate status (the ledger expects mode '{expected}'); investigate who changed the flag"

    def measure() -> Check:
        mode = adapters.current_mode(cfg)
        return Check(name, mode == expected, mode, expected, fix)

    return _probe(name, expected, fix, measure)


# ------------------------------------------------------------------ preflight

# Privileges the dual-write needs in production, on every mapped table and the outbox.
_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Free slots (and WAL senders) a replica takes on the source: DMS one; a logical subscription
# one, plus a temporary one per table-sync worker during the initial copy
# (max_sync_workers_per_subscription, 2 by default).
_SLOTS_NEEDED = {
    "dms": (1, "one for the DMS task"),
    "logical": (3, "the subscription's + 2 table-sync workers'"),
}


class Preflight:
    """One preflight run: the configuration, and what its checks read, each measured at most once
    (a failure too: an unreachable source is reported by every check that needs it, dialled once)."""

    def __init__(self, cfg: MigrateConfig, control: ControlTable | None = None) -> None:
        self.cfg = cfg
        self.control = control
        # The mapped tables every check reads; a mapping that does not load leaves none, and the
        # `mapping` check fails with its error (the other checks then have no table to vouch for).
        self.mapping_error: Exception | None = None
        try:
            self.tables = adapters.mapped_tables(cfg.settings)
        except (OpsError, OSError) as exc:  # a file that is not there, not readable, not valid
            self.tables, self.mapping_error = [], exc
        self.evidence: dict[str, Any] = {"tables": self.tables}
        self._memo: dict[str, tuple[bool, Any]] = {}

    @property
    def fields(self) -> dict[str, Any]:
        """What a check's name, threshold and fix templates may name."""
        return {"s": self.cfg.settings, "cfg": self.cfg, "control": self.control}

    def once(self, key: str, measure: Callable[[], Any]) -> Any:
        if key not in self._memo:
            try:
                self._memo[key] = (True, measure())
            except Exception as exc:
                self._memo[key] = (False, exc)
        ok, value = self._memo[key]
        if not ok:
            raise value
        return value

    @property
    def source_url(self) -> str:
        return adapters.require_url(self.cfg.settings.prod_database_url, "PROD_DATABASE_URL")

    def source(self) -> Any:
        """`SourceFacts` of the production database."""
        return self.once("source", lambda: adapters.source_facts(self.source_url))


@dataclass(frozen=True)
class Row:
    """A check's row before it is measured: name, threshold and fix, each written once."""

    name: str
    threshold: str
    fix: str

    def __call__(
        self, ok: bool, measured: str, *, threshold: str | None = None, fix: str | None = None
    ) -> Check:
        return Check(
            self.name,
            ok,
            measured,
            self.threshold if threshold is None else threshold,
            self.fix if fix is None else fix,
        )


Template = str | Callable[[Preflight], str]
Measure = Callable[[Preflight, Row], Check]


@dataclass(frozen=True)
class PreflightCheck:
    """A preflight check: its row (templates filled from `Preflight.fields`) and the function
    that measures it. A measurement that raises becomes a failed row with the error as measured."""

    name: Template
    threshold: Template
    fix: Template
    measure: Measure
    applies: Callable[[Preflight], bool]

    def __call__(self, p: Preflight) -> Check | None:
        if not self.applies(p):
            return None
        row = Row(
            *(t(p) if callable(t) else t.format_map(p.fields) for t in (self.name, self.threshold, self.fix))
        )
        try:
            return self.measure(p, row)
        except Exception as exc:
            return row(False, f"error: {adapters.describe_error(exc)}")


def preflight_check(
    name: Template, threshold: Template, fix: Template, *, applies: Callable[[Preflight], bool] | None = None
) -> Callable[[Measure], PreflightCheck]:
    def declare(measure: Measure) -> PreflightCheck:
        return PreflightCheck(name, threshold, fix, measure, applies or (lambda p: True))

    return declare


def _reachable(tables: list[str], privileges: tuple[str, ...]) -> str:
    return "reachable" + (f"; {', '.join(privileges)} on {', '.join(tables)}" if tables else "")


def _pg_reachable(
    row: Row, url: str | None, variable: str, tables: list[str], privileges: tuple[str, ...]
) -> Check:
    if not url:
        return row(False, f"{variable} not set", fix=f'export {variable} (eval "$(ops sandbox env)")')
    if not tables:
        adapters.existing_tables(url, [])
        return row(True, "reachable")
    missing = adapters.table_privileges(url, tables, privileges)
    if missing:
        return row(False, "; ".join(f"{t}: {', '.join(m)}" for t, m in missing.items()))
    return row(True, "reachable, privileges ok")


@preflight_check(
    "mapping",
    "loads; maps at least one table",
    "point OPS_MAPPING_FILE at a valid mapping file, or unset it for the packaged one "
    "(ops/mapping/README.md documents the format)",
)
def mapping(p: Preflight, row: Row) -> Check:
    source = str(p.cfg.settings.mapping_file or "the packaged mapping")
    if p.mapping_error is not None:
        return row(False, adapters.describe_error(p.mapping_error))
    return row(bool(p.tables), f"{source}: {', '.join(p.tables) or 'no tables'}")


@preflight_check(
    "production PostgreSQL",
    lambda p: _reachable([*p.tables, "outbox"], _WRITE),
    f"set PROD_DATABASE_URL to a role with {', '.join(_WRITE)}; check network/security group",
)
def production_postgres(p: Preflight, row: Row) -> Check:
    return _pg_reachable(
        row, p.cfg.settings.prod_database_url, "PROD_DATABASE_URL", [*p.tables, "outbox"], _WRITE
    )


@preflight_check(
    "V2 replica PostgreSQL",
    "reachable",
    "set V2_DATABASE_URL to a role with CONNECT; check network/security group",
)
def v2_postgres(p: Preflight, row: Row) -> Check:
    return _pg_reachable(row, p.cfg.settings.v2_database_url, "V2_DATABASE_URL", [], ())


@preflight_check(
    "V2 RDS instance",
    "exists",
    "grant rds:DescribeDBInstances",
    applies=lambda p: bool(p.cfg.v2_rds_instance),
)
def v2_rds_instance(p: Preflight, row: Row) -> Check:
    instance = str(p.cfg.v2_rds_instance)
    found = adapters.rds_instance_exists(instance)
    return row(
        found,
        instance if found else f"{instance} not found",
        threshold="exists (its final snapshot is taken at cleanup)",
        fix="set OPS_V2_RDS_INSTANCE from `terraform output -json ops_environment`",
    )


_SOURCE_FIX = "check that PROD_DATABASE_URL reaches the production database"


@preflight_check("source wal_level", "logical", _SOURCE_FIX)
def source_wal_level(p: Preflight, row: Row) -> Check:
    facts = p.source()
    if facts.on_rds:
        on = facts.rds_logical_replication in ("on", "1")
        return row(
            on and facts.wal_level == "logical",
            f"rds.logical_replication={facts.rds_logical_replication}, wal_level={facts.wal_level}",
            threshold="rds.logical_replication = 1 (wal_level = logical)",
            fix="set rds.logical_replication = 1 in the production instance's DB parameter group, "
            "then reboot the instance (the parameter is static)",
        )
    return row(
        facts.wal_level == "logical",
        f"wal_level={facts.wal_level}",
        fix="ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL",
    )


def _free_capacity(p: Preflight, row: Row, *, setting: str, in_use: int, limit: int, what: str) -> Check:
    needed, why = _SLOTS_NEEDED.get(p.cfg.replica_driver, _SLOTS_NEEDED["logical"])
    free = limit - in_use
    where = (
        "in the production DB parameter group, then reboot" if p.source().on_rds else "and restart PostgreSQL"
    )
    return row(
        free >= needed,
        f"{in_use} of {setting}={limit} in use, {free} free",
        threshold=f">= {needed} free ({why})",
        fix=f"raise {setting} {where}, or end {what} nobody uses",
    )


@preflight_check("source replication slots free", ">= 1 free", _SOURCE_FIX)
def source_slots(p: Preflight, row: Row) -> Check:
    facts = p.source()
    return _free_capacity(
        p,
        row,
        setting="max_replication_slots",
        in_use=len(facts.slots),
        limit=facts.max_replication_slots,
        what="slots (SELECT pg_drop_replication_slot('<slot>'))",
    )


@preflight_check("source WAL senders free", ">= 1 free", _SOURCE_FIX)
def source_wal_senders(p: Preflight, row: Row) -> Check:
    facts = p.source()
    return _free_capacity(
        p,
        row,
        setting="max_wal_senders",
        in_use=facts.wal_senders_in_use,
        limit=facts.max_wal_senders,
        what="replication connections (pg_stat_replication)",
    )


def _replication_role(p: Preflight) -> tuple[str | None, str]:
    """The role the replica connects to the source as, and where that name came from."""
    if p.cfg.replication_user:
        return p.cfg.replication_user, "OPS_REPLICATION_USER"
    if p.cfg.replica_driver == "dms":
        return adapters.dms_source_user(p.cfg), "the DMS source endpoint"
    return p.source().current_user, "PROD_DATABASE_URL, which the subscription connects as"


@preflight_check(
    "replication user grants",
    lambda p: f"REPLICATION (on RDS: rds_replication) and SELECT on {', '.join(p.tables)}",
    _SOURCE_FIX,
)
def replication_role(p: Preflight, row: Row) -> Check:
    role, origin = _replication_role(p)
    if not role:
        return row(
            False,
            f"unknown: {origin} names no user (it reads a secret)",
            fix="set OPS_REPLICATION_USER to the role the DMS source endpoint connects as",
        )
    grants = adapters.replication_grants(p.source_url, role, p.tables)
    name = _ident(role)
    if not grants.exists:
        return row(
            False,
            f"role {role} (from {origin}) does not exist",
            fix=f"CREATE ROLE {name} LOGIN PASSWORD '...'; then grant it as this check says",
        )
    lacking: list[str] = []
    statements: list[str] = []
    if not grants.can_replicate:
        lacking.append(
            "no REPLICATION attribute"
            + ("" if grants.rds_replication is None else ", not in rds_replication")
        )
        statements.append(
            f"GRANT rds_replication TO {name};"
            if grants.rds_replication is not None
            else f"ALTER ROLE {name} WITH REPLICATION;"
        )
    if grants.missing_select:
        lacking.append(f"no SELECT on {', '.join(grants.missing_select)}")
        statements.append(f"GRANT SELECT ON {', '.join(grants.missing_select)} TO {name};")
    how = "superuser" if grants.superuser else "rds_replication" if grants.rds_replication else "REPLICATION"
    return row(
        not lacking,
        f"{role} (from {origin}): "
        + ("; ".join(lacking) if lacking else f"{how}, SELECT on every mapped table"),
        fix="run on the production database as an administrator: " + " ".join(statements),
    )


@preflight_check(
    "WAL held by replication slots",
    "no inactive slot holding more than {cfg.max_slot_wal_mb:g} MB",
    _SOURCE_FIX,
)
def slot_wal(p: Preflight, row: Row) -> Check:
    facts = p.source()
    limit = p.cfg.max_slot_wal_mb * 2**20
    held = sum(s.retained_bytes or 0 for s in facts.slots)
    stuck = [s for s in facts.slots if not s.active and (s.retained_bytes or 0) > limit]
    cap = "unlimited" if facts.max_slot_wal_keep_size in ("-1", "-1MB") else facts.max_slot_wal_keep_size
    measured = f"{len(facts.slots)} slot(s) hold {_bytes(held)} of WAL (max_slot_wal_keep_size {cap})"
    if stuck:
        measured += "; inactive: " + ", ".join(f"{s.name} {_bytes(s.retained_bytes or 0)}" for s in stuck)
    drops = " ".join(f"SELECT pg_drop_replication_slot('{s.name}');" for s in stuck)
    return row(
        not stuck,
        measured,
        fix=f"if nothing consumes them any more, drop them: {drops} Otherwise restart their consumer; "
        "max_slot_wal_keep_size caps what a slot may hold",
    )


@preflight_check(
    "source free storage",
    "{cfg.source_min_free_percent:g}% of allocated storage free",
    "set OPS_SOURCE_RDS_INSTANCE to the production DB instance; grant rds:DescribeDBInstances and "
    "cloudwatch:GetMetricStatistics",
)
def source_storage(p: Preflight, row: Row) -> Check:
    instance = p.cfg.source_rds_instance
    if instance:
        reading = adapters.rds_free_storage(instance)
        if reading.free_bytes is None:
            return row(
                False, f"{instance}: no FreeStorageSpace datapoint in the last hour (CloudWatch AWS/RDS)"
            )
        percent = 100 * reading.free_bytes / reading.allocated_bytes if reading.allocated_bytes else 0.0
        return row(
            percent >= p.cfg.source_min_free_percent,
            f"{instance}: {_bytes(reading.free_bytes)} free of {_bytes(reading.allocated_bytes)} "
            f"({percent:.0f}%), lowest FreeStorageSpace of the last hour",
            fix=f"aws rds modify-db-instance --db-instance-identifier {instance} --allocated-storage <GiB> "
            "--apply-immediately (or enable storage autoscaling with --max-allocated-storage); "
            "a slot whose consumer stalls keeps all WAL from then on",
        )
    facts = p.source()
    if facts.on_rds:
        return row(
            False,
            "the source is Amazon RDS and OPS_SOURCE_RDS_INSTANCE is not set: free storage not measured",
        )
    wal = "unknown (pg_ls_waldir needs pg_monitor)" if facts.wal_bytes is None else _bytes(facts.wal_bytes)
    return row(
        True,
        f"free disk is not measurable over SQL on a self-managed server; measured: database "
        f"{_bytes(facts.database_bytes)}, WAL folder {wal}. Check free disk on the server (df)",
    )


@preflight_check(
    "LOB sizes vs replication LOB limit",
    "full LOB mode, or LobMaxSize >= largest LOB value + {cfg.lob_margin_percent:g}%",
    "check PROD_DATABASE_URL and OPS_DMS_TASK_ARN; grant dms:DescribeReplicationTasks, "
    "dms:DescribeReplicationConfigs",
)
def lob_sizes(p: Preflight, row: Row) -> Check:
    from ops.replica.lobs import WHOLE, judge

    if p.cfg.replica_driver != "dms":
        return row(True, f"{p.cfg.replica_driver}: {WHOLE.origin}")
    limits, settings_name = adapters.lob_limits(p.cfg, p.tables)
    columns = adapters.measure_lobs(p.cfg, p.source_url, p.tables)
    p.evidence["lob_columns"] = [c.to_dict() for c in columns]
    verdict = judge(columns, limits, p.cfg.lob_margin_percent)
    measured = verdict.measured
    if verdict.ok and any(c.method.startswith("sample") for c in columns):
        measured += "; a sample can miss a larger value: `ops replica check --lob-scan exact` reads every row"
    return row(verdict.ok, measured, fix=_lob_fix(p.cfg, verdict.needed_kb, settings_name))


def _lob_fix(cfg: MigrateConfig, needed_kb: int | None, settings_name: str) -> str:
    arn = cfg.replica_task_arn or "<OPS_DMS_TASK_ARN>"
    if ":replication-config:" in arn:
        command = (
            f"aws dms modify-replication-config --replication-config-arn {arn} "
            "--replication-settings file://settings.json"
        )
    else:
        command = (
            f"aws dms modify-replication-task --replication-task-arn {arn} "
            "--replication-task-settings file://settings.json (with the task stopped)"
        )
    size = f"LobMaxSize >= {needed_kb} KB" if needed_kb else "LobMaxSize above the largest value"
    return (
        f"in TargetMetadata of the DMS {settings_name} set FullLobMode=true, or LimitedSizeLobMode=true "
        f"with {size} (SupportLobs=true; the same in any table-settings lob-settings rule): in Terraform "
        f"(terraform/modules/dms) and `terraform apply`, or {command}"
    )


@preflight_check(
    "target table + PITR", "ACTIVE, PITR ENABLED", "terraform apply (creates {s.target_table} with PITR)"
)
def target_table(p: Preflight, row: Row) -> Check:
    table = p.cfg.settings.target_table
    info = adapters.describe_target(table)
    pitr_ok = info["pitr"] == "ENABLED"
    pitr = f"PITR {info['pitr']}"
    if info["pitr"] == adapters.PITR_UNSUPPORTED:
        pitr_ok = p.cfg.accept_unmeasurable_pitr
        pitr = "PITR not measurable on this endpoint (no backups API)" + (
            "; accepted by OPS_PITR_UNSUPPORTED=accept" if pitr_ok else ""
        )
    return row(
        info["status"] == "ACTIVE" and pitr_ok,
        f"{table}: {info['status']}, {pitr}",
        fix=f"aws dynamodb update-continuous-backups --table-name {table} "
        "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true",
    )


@preflight_check(
    "control table read/write",
    "get/put/delete allowed",
    "grant dynamodb:GetItem/PutItem/DeleteItem/Query on {control.name}",
)
def control_table(p: Preflight, row: Row) -> Check:
    assert p.control is not None, "the preflight gate always has its control table"
    key = f"LEDGER#{p.cfg.dataset}"
    p.control.put(key, "PROBE", {"at": adapters.utcnow().isoformat()})
    p.control.get(key, "PROBE")
    p.control.delete(key, "PROBE")
    return row(True, f"{p.control.name}: ok", fix="")


@preflight_check(
    "flag readable by the app",
    "parameter exists and the app's FlagReader reads it",
    lambda p: f"grant ssm:GetParameter on {p.cfg.settings.flag_parameter()}",
)
def flag_readable(p: Preflight, row: Row) -> Check:
    parameter = p.cfg.settings.flag_parameter()
    stored = adapters.flag_parameter_value(p.cfg)
    seen = adapters.app_reads_mode(p.cfg)
    return row(
        stored is not None and seen == stored,
        f"{parameter}: stored {stored or 'missing'}, app reads {seen}",
        fix=f"terraform apply (module migration_flag creates {parameter} = postgres); "
        "grant ssm:GetParameter to the app role",
    )


@preflight_check("CloudWatch alarms exist", ">= 1", "grant cloudwatch:DescribeAlarms")
def alarms_exist(p: Preflight, row: Row) -> Check:
    cfg = p.cfg
    found = adapters.alarms(cfg.alarm_prefixes)
    names = {a["name"] for a in found}
    missing = [n for n in cfg.required_alarms if n not in names and n not in adapters.alarm_names((n,))]
    measured = f"{len(found)} alarm(s) with prefix {', '.join(cfg.alarm_prefixes)}"
    if missing:
        measured += f"; missing {', '.join(missing)}"
    return row(
        bool(found) and not missing,
        measured,
        threshold=">= 1" + (f" incl. {', '.join(cfg.required_alarms)}" if cfg.required_alarms else ""),
        fix=(
            "terraform apply of the environment (modules/environment creates them; "
            "ops_environment lists them in OPS_REQUIRED_ALARMS)"
        ),
    )


def flag_is_postgres(p: Preflight) -> Check:
    return flag_matches(p.cfg, "postgres")


# What the replica needs from its source; also runs alone (`ops replica check`).
SOURCE: tuple[Callable[[Preflight], Check | None], ...] = (
    mapping,
    source_wal_level,
    source_slots,
    source_wal_senders,
    replication_role,
    slot_wal,
    source_storage,
    lob_sizes,
)
# Preflight, in the order the operator reads it: databases, the replica's source, AWS, the flag.
PREFLIGHT: tuple[Callable[[Preflight], Check | None], ...] = (
    mapping,
    production_postgres,
    v2_postgres,
    v2_rds_instance,
    *SOURCE[1:],
    target_table,
    control_table,
    flag_readable,
    alarms_exist,
    flag_is_postgres,
)


def _run(name: str, checks: tuple[Callable[[Preflight], Check | None], ...], p: Preflight) -> GateResult:
    rows = [c for c in (check(p) for check in checks) if c is not None]
    return GateResult(name, rows, evidence=p.evidence)


def preflight_gate(cfg: MigrateConfig, control: ControlTable) -> GateResult:
    return _run("preflight", PREFLIGHT, Preflight(cfg, control))


def source_gate(cfg: MigrateConfig) -> GateResult:
    """The replica's source checks of preflight alone: read-only, outside the phase order, so
    they can be re-run whenever the source or the DMS settings change."""
    return _run("replica source", SOURCE, Preflight(cfg))


def _ident(name: str) -> str:
    """`name` as a SQL identifier in a fix the operator pastes."""
    return name if name.isidentifier() and name == name.lower() else '"' + name.replace('"', '""') + '"'


def _bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


# ------------------------------------------------------------------ dual-write


def outbox_check(cfg: MigrateConfig, *, empty: bool = False) -> Check:
    """Outbox rows are PostgreSQL writes DynamoDB has not confirmed. While PostgreSQL is still
    written, draining is enough; before it stops being written it must be empty, or those writes
    would exist only in PostgreSQL."""
    name = "outbox empty" if empty else "outbox empty or draining"
    threshold = "0 rows" if empty else f"0 rows, or none older than {cfg.outbox_max_age_seconds:.0f} s"
    fix = "ops repair outbox (drains it into DynamoDB); check the app logs for DynamoDB write failures"

    def measure() -> Check:
        url = adapters.require_url(cfg.settings.prod_database_url, "PROD_DATABASE_URL")
        stats = adapters.outbox_stats(url)
        age = stats.oldest_age_seconds
        ok = stats.rows == 0 or (not empty and age is not None and age <= cfg.outbox_max_age_seconds)
        measured = f"{stats.rows} rows" + (f", oldest {age:.0f} s" if age is not None else "")
        return Check(name, ok, measured, threshold, fix)

    return _probe(name, threshold, fix, measure)


def tombstone_ttl_check(cfg: MigrateConfig, ledger: Ledger) -> Check:
    """Tombstones keep a deleted row deleted against the backfill (which may read a lagging
    replica), repairs and late writes; one written when dual-write began must outlive the copy, the
    verification and the soak. Measured: the configured TTL against that timeline so far."""
    name = "tombstone TTL covers the migration"
    ttl = cfg.settings.tombstone_ttl_seconds
    record = ledger.record(Phase.DUAL_WRITE)
    began = parse_time(record.started_at) if record else None
    elapsed = (adapters.utcnow() - began).total_seconds() if began else 0.0
    need = elapsed + cfg.replica_max_lag_seconds + cfg.soak_seconds + DAY
    return Check(
        name,
        ttl >= need,
        f"TTL {_duration(ttl)}; dual-write began {_duration(elapsed)} ago",
        f">= {_duration(need)} (time since dual-write began + replica lag + soak + 1 d)",
        f"set OPS_TOMBSTONE_TTL_SECONDS >= {need:.0f} for the application and the cutover; tombstones "
        "already written keep their TTL, so run a full `ops verify run` again before reads switch",
    )


SHADOW_LIST = "ops verify shadow"


def shadow_check(cfg: MigrateConfig, control: ControlTable, verified_from: str | None) -> Check:
    """The application's shadow reads over the trailing window, as it recorded them.

    Mismatches (differences that outlasted the re-check, judged by version) count against the
    threshold. Reads of keys the backfill had not copied yet count apart: they are harmless once a
    full verification — which compared every key — started after them (`verified_from`, the start
    of the run the `verify` gate accepted); any later one means a row reached PostgreSQL without
    reaching DynamoDB."""
    name = "shadow-read mismatches"
    window = cfg.shadow_window_seconds
    threshold = (
        f"<= {cfg.shadow_max_mismatches} mismatched over the last {window:.0f} s, >= 1 comparison, "
        "no key left uncopied after the verification started"
    )
    fix = (
        f"`{SHADOW_LIST}` lists each mismatched key with its diff; repair with `ops verify run "
        "--repair --yes`, then wait one window (OPS_SHADOW_WINDOW_SECONDS)"
    )

    def measure() -> Check:
        seen = adapters.shadow_window(cfg, control, window)
        uncovered = seen.not_copied_since(verified_from) if verified_from else seen.not_copied
        measured = f"{seen.mismatch_count} mismatched in {seen.compared:,} reads"
        if seen.not_copied:
            measured += f"; {seen.not_copied:,} not copied yet, " + (
                f"{seen.not_copied - uncovered:,} before the verification started ({verified_from})"
                if verified_from
                else "no clean verification since"
            )
        if seen.transient or seen.in_flight:
            measured += f"; {seen.transient:,} transient, {seen.in_flight:,} in flight"
        ok = seen.mismatch_count <= cfg.shadow_max_mismatches and seen.compared > 0 and not uncovered
        if seen.compared == 0:
            reason = (
                "no shadow reads recorded: the application must run in dual_write_shadow and be "
                f"allowed to write SHADOW#{cfg.dataset} items to the control table {control.name}"
            )
        elif uncovered:
            reason = (
                "rows were read from PostgreSQL with no DynamoDB item "
                + (
                    "after the verification started: "
                    if verified_from
                    else "and no clean verification since: "
                )
                + f"`{SHADOW_LIST}` lists some; `ops migrate backfill`, then `ops migrate verify`"
            )
        else:
            reason = fix
        return Check(name, ok, measured, threshold, reason)

    return _probe(name, threshold, fix, measure)


def dual_write_gate(
    cfg: MigrateConfig, control: ControlTable, *, shadow: bool, verified_from: str | None = None
) -> GateResult:
    checks = [outbox_check(cfg)]
    if shadow:
        checks.append(shadow_check(cfg, control, verified_from))
    return GateResult("dual-write", checks)


# ------------------------------------------------------------------ alarms, propagation


def alarms_ok(cfg: MigrateConfig, prefixes: tuple[str, ...], name: str = "alarms OK") -> Check:
    threshold = "every alarm OK"
    fix = "resolve the alarm (see its runbook); `aws cloudwatch describe-alarms --state-value ALARM`"

    def measure() -> Check:
        found = adapters.alarms(prefixes)
        firing = [a["name"] for a in found if a["state"] == "ALARM"]
        if not found:
            return Check(name, False, "no alarms found", threshold, "terraform apply (creates the alarms)")
        return Check(
            name, not firing, f"ALARM: {', '.join(firing)}" if firing else f"{len(found)} OK", threshold, fix
        )

    return _probe(name, threshold, fix, measure)


def propagation_check(cfg: MigrateConfig, expected: str, reader: Any = None) -> Check:
    name = "flag propagated to the app"
    threshold = f"app reads '{expected}' within {cfg.flag_propagation_seconds:.0f} s"
    fix = "check the app role can read the parameter; re-run the command to re-check"

    def measure() -> Check:
        seen, waited = adapters.wait_for_app_mode(cfg, expected, reader)
        return Check(name, seen == expected, f"app reads '{seen}' after {waited:.1f} s", threshold, fix)

    return _probe(name, threshold, fix, measure)


# ------------------------------------------------------------------ soak


def soak_gate(cfg: MigrateConfig, ledger: Ledger) -> GateResult:
    now = adapters.utcnow()
    switch = ledger.record(Phase.SWITCH_READS)
    switched_at = parse_time(switch.ended_at) if switch and switch.state == PhaseState.DONE else None
    need = cfg.soak_seconds
    checks: list[Check] = []
    if switched_at is None:
        checks.append(Check("reads switched", False, "no", "switch-reads done", "ops migrate switch-reads"))
        elapsed = 0.0
    else:
        elapsed = (now - switched_at).total_seconds()
        checks.append(
            Check(
                "soak time since reads switched",
                elapsed >= need,
                _duration(elapsed),
                f">= {_duration(need)}",
                "wait; re-run `ops migrate soak` later (OPS_SOAK_SECONDS / --soak-days sets the length)",
            )
        )
    window_start = now - timedelta(seconds=need)
    rollbacks = [
        e for e in ledger.history() if e.action == "rollback" and (parse_time(e.at) or now) >= window_start
    ]
    checks.append(
        Check(
            "no rollback in the soak window",
            not rollbacks,
            f"{len(rollbacks)} rollback(s)" + (f", last {rollbacks[-1].at}" if rollbacks else ""),
            "0",
            "the soak restarts with the next `ops migrate switch-reads`",
        )
    )
    checks.append(alarms_ok(cfg, cfg.error_alarm_prefixes, "error alarms quiet"))
    checks.append(flag_matches(cfg, "dual_write_read_dynamodb"))
    evidence: dict[str, Any] = {
        "reads_switched_at": switched_at.isoformat() if switched_at else None,
        "elapsed_seconds": round(elapsed, 1),
        "soak_seconds": need,
    }
    return GateResult("soak", checks, evidence)


def _duration(seconds: float) -> str:
    if seconds >= DAY:
        return f"{seconds / DAY:.2f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.0f} s"
