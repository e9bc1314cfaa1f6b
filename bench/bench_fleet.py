"""A backfill fleet against a table write limit: does it fill the limit from first write to last?

A throttled endpoint (`bench/fake_dynamodb.py --wcu-limit`: one write unit per started KB of the
item, at most one second of the limit banked, DynamoDB's own throttle answer) stands for the
table; each worker is its own `ops backfill` process (the engine through `run_backfill`), started a
few seconds apart, sharing the run's segments and the control table (moto's server) through which
the fleet shares its write budget. Scenarios: 1, 2, 4 and 8 processes; 4 processes with the limit
halved and restored mid-run. Each prints its measurement next to its target:

- >= 90% of the limit used from the first write to the last (write units accepted / the limit's
  integral over that span, measured by the endpoint);
- <= 2% of the requests throttled;
- no worker below half its fair share (the limit over the workers writing at that second) for
  more than 10 s in a row, from each worker's own per-second counts;
- after a limit change, the accepted rate within +-15% of the new limit within 10 s, and every
  second after that (until the next change or the last workers' final seconds).

The baseline in the same run is the limit itself (what an ideal fleet would write). Sizes:
BENCH_FLEET_ROWS (default 45000 rows of ~1 KB), BENCH_FLEET_WCU (default 1300 write units/s,
about half of what two cores push through the endpoint here).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.bench_backfill import REPO, _seed, aws_env, bench_cluster, start_moto

ROWS = int(os.environ.get("BENCH_FLEET_ROWS", "45000"))
LIMIT_WCU = float(os.environ.get("BENCH_FLEET_WCU", "1300"))
STAGGER_SECONDS = 2.0
LATENCY_MS = 5.0
TARGET_USE = 0.90
TARGET_THROTTLED = 0.02
SHARE_FLOOR = 0.5
SHARE_GRACE_SECONDS = 10
FOLLOW_SECONDS = 10
HOLD_BAND = 0.15


@dataclass
class Scenario:
    name: str
    processes: int
    # (seconds after the first write, new limit as a fraction of LIMIT_WCU)
    changes: list[tuple[float, float]] = field(default_factory=list)
    rows: int = ROWS


def _child(args: dict[str, Any]) -> dict[str, Any]:
    """One worker: copy its share of the run, sampling its own written rows every second."""
    from ops.backfill.engine import BackfillEngine
    from ops.backfill.options import BackfillOptions

    samples: list[tuple[float, int]] = []

    def sample(engine: BackfillEngine) -> None:
        live = engine.live
        samples.append((time.time(), live.rows_written + live.rows_present))

    options = BackfillOptions(
        source_url=args["source"],
        table="answers",
        target_table=args["target"],
        control_table="bench-fleet-control",
        run_id=args["target"],
        segments=16,
        worker=args["worker"],
        workers=args["workers"],
        endpoint=args["endpoint"],
        metrics=False,
    )
    result = BackfillEngine(options, on_progress=sample).run()
    c = result.counters
    return {
        "worker": args["worker"],
        "written": c.rows_written,
        "present": c.rows_present,
        "failed": c.rows_failed,
        "samples": samples,
    }


def _post(url: str, doc: dict[str, Any]) -> None:
    request = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST")
    urllib.request.urlopen(request).read()


def _run_scenario(
    scenario: Scenario, source: str, env: dict[str, str], root: Path
) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[float, float]]]:
    from ops.sandbox import processes

    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.fake_dynamodb",
            "--latency-ms",
            str(LATENCY_MS),
            "--wcu-limit",
            str(LIMIT_WCU),
        ],
        stdout=subprocess.PIPE,
        stderr=(root / f"fake-{scenario.processes}.log").open("w"),
        text=True,
        env=env,
        cwd=REPO,
    )
    children: list[subprocess.Popen[str]] = []
    limits: list[tuple[float, float]] = []
    try:
        assert fake.stdout is not None
        endpoint = f"http://{processes.LOOPBACK}:{int(fake.stdout.readline().split()[1])}"
        target = f"fleet-{scenario.name.replace(' ', '-').replace(',', '')}-{os.getpid()}"
        limits.append((time.time(), LIMIT_WCU))
        for worker in range(scenario.processes):
            args = {
                "source": source,
                "endpoint": endpoint,
                "target": target,
                "worker": worker,
                "workers": scenario.processes,
            }
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.bench_fleet", "--child", json.dumps(args)],
                    stdout=subprocess.PIPE,
                    stderr=(root / f"child-{target}-{worker}.log").open("w"),
                    text=True,
                    env=env,
                    cwd=REPO,
                )
            )
            if worker < scenario.processes - 1:
                time.sleep(STAGGER_SECONDS)
        if scenario.changes:
            changer = threading.Thread(target=_change_limits, args=(endpoint, scenario.changes, limits))
            changer.start()
        outputs = []
        for child in children:
            out, _ = child.communicate(timeout=900)
            if child.returncode != 0:
                raise RuntimeError(f"worker failed; see {root}: {out[-500:]}")
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        if scenario.changes:
            changer.join()
        stats = json.loads(urllib.request.urlopen(f"{endpoint}/stats").read())
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        fake.terminate()
        fake.wait(timeout=10)
    return stats, outputs, limits


def _change_limits(
    endpoint: str, changes: list[tuple[float, float]], limits: list[tuple[float, float]]
) -> None:
    """Apply each change at its time after the first accepted write."""
    while True:
        first = json.loads(urllib.request.urlopen(f"{endpoint}/stats").read())["timeline"]
        if first:
            break
        time.sleep(0.2)
    start = min(float(k) for k in first)
    for at, fraction in changes:
        time.sleep(max(0.0, start + at - time.time()))
        _post(f"{endpoint}/limit", {"wcu": LIMIT_WCU * fraction})
        limits.append((time.time(), LIMIT_WCU * fraction))


def _limit_at(limits: list[tuple[float, float]], t: float) -> float:
    value = limits[0][1]
    for at, wcu in limits:
        if at <= t:
            value = wcu
    return value


def _judge(
    scenario: Scenario,
    stats: dict[str, Any],
    outputs: list[dict[str, Any]],
    limits: list[tuple[float, float]],
) -> dict[str, tuple[str, bool]]:
    timeline = {int(k): v for k, v in stats["timeline"].items() if v[1] or v[2]}
    seconds = sorted(timeline)
    first, last = seconds[0], seconds[-1]
    units = sum(v[0] for v in timeline.values())
    items = sum(v[1] for v in timeline.values())
    unit_per_item = units / items
    # Whole seconds from the first write to the last; the partial first and last seconds are left
    # out of both sides (each is a fraction of a second of writing over a whole second of limit).
    inner = [s for s in seconds if first < s < last]
    used = sum(timeline[s][0] for s in inner) / sum(_limit_at(limits, s + 0.5) for s in inner)
    throttled = stats["throttled"] / max(1, stats["requests"])
    checks: dict[str, tuple[str, bool]] = {
        "limit used, first write to last": (
            f"{used:.1%} (target >= {TARGET_USE:.0%}; {last - first + 1} s)",
            used >= TARGET_USE,
        ),
        "requests throttled": (
            f"{throttled:.2%} (target <= {TARGET_THROTTLED:.0%})",
            throttled <= TARGET_THROTTLED,
        ),
    }
    # Per worker and second: rows written, from its own samples.
    per_worker: list[dict[int, float]] = []
    for out in outputs:
        rates: dict[int, float] = {}
        samples = out["samples"]
        for (t0, n0), (t1, n1) in itertools.pairwise(samples):
            if n1 > n0:
                rates[int(t1)] = (n1 - n0) / max(t1 - t0, 1e-3)
        if rates:  # a worker that started after the others had taken all its segments over wrote nothing
            per_worker.append(rates)
    spans = [(min(r), max(r)) for r in per_worker]
    worst = 0
    for rates, (start, end) in zip(per_worker, spans, strict=True):
        run = 0
        for s in range(start + 1, end):
            active = sum(1 for a, b in spans if a <= s <= b)
            fair = _limit_at(limits, s) / unit_per_item / active
            run = run + 1 if rates.get(s, 0.0) < SHARE_FLOOR * fair else 0
            worst = max(worst, run)
    checks["longest time a worker was below half its fair share"] = (
        f"{worst} s (target <= {SHARE_GRACE_SECONDS} s)",
        worst <= SHARE_GRACE_SECONDS,
    )
    ends = [b for _, b in spans]
    for at, wcu in limits[1:]:
        change = int(at) + 1
        later = [a for a, _ in limits if a > at]
        until = min([int(later[0]) if later else last, min(ends) - 1])
        window = [s for s in seconds if change <= s < until]
        within = [s for s in window if abs(timeline[s][0] - wcu) <= HOLD_BAND * wcu]
        followed = (within[0] - at) if within else None
        after = [s for s in window if within and s >= within[0]]
        held = [timeline[s][0] / wcu for s in after]
        ok = (
            followed is not None and followed <= FOLLOW_SECONDS and all(abs(h - 1) <= HOLD_BAND for h in held)
        )
        spread = f"{min(held):.0%}..{max(held):.0%} of it over {len(held)} s" if held else "never"
        checks[f"limit -> {wcu:,.0f} WCU/s followed"] = (
            f"in {followed if followed is not None else float('nan'):.1f} s, then {spread} "
            f"(target <= {FOLLOW_SECONDS} s, then within +-{HOLD_BAND:.0%})",
            ok,
        )
    copied = sum(o["written"] + o["present"] for o in outputs)
    checks["every row copied once"] = (
        f"{copied:,} of {scenario.rows:,}, {stats['items']:,} items, "
        f"{sum(o['failed'] for o in outputs)} failed",
        copied == scenario.rows == stats["items"],
    )
    return checks


def main() -> bool:
    scenarios = [
        Scenario("1 process", 1),
        Scenario("2 processes", 2),
        Scenario("4 processes", 4),
        Scenario("8 processes", 8),
        Scenario("4 processes, limit halved and restored", 4, [(25.0, 0.5), (50.0, 1.0)], ROWS * 2),
    ]
    wanted = os.environ.get("BENCH_FLEET_ONLY")
    if wanted:
        scenarios = [s for s in scenarios if s.name.startswith(wanted)]
    results: list[tuple[Scenario, dict[str, tuple[str, bool]], float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = Path(tmp)
        cluster = bench_cluster(root, "bench-fleet")
        env = aws_env()
        moto: subprocess.Popen[bytes] | None = None
        try:
            cluster.init()
            cluster.start()
            sources = {}
            for rows in sorted({s.rows for s in scenarios}):
                print(f"seeding {rows:,} rows of ~1 KB items ...", flush=True)
                sources[rows] = _seed(cluster.admin_url, f"fleet_{rows}", rows)
            moto = start_moto(env, root)
            for scenario in scenarios:
                print(
                    f"\n--- {scenario.name}: limit {LIMIT_WCU:,.0f} WCU/s, {scenario.rows:,} rows", flush=True
                )
                stats, outputs, limits = _run_scenario(scenario, sources[scenario.rows], env, root)
                checks = _judge(scenario, stats, outputs, limits)
                load = os.getloadavg()[0]
                for name, (value, ok) in checks.items():
                    print(f"  {'PASS' if ok else 'MISS'}  {name}: {value}", flush=True)
                print(f"  load average (1 min) after the scenario: {load:.1f} on {os.cpu_count()} cores")
                results.append((scenario, checks, load))
        finally:
            if moto is not None:
                moto.terminate()
                moto.wait(timeout=10)
            cluster.stop()
    print(f"\nbaseline: the limit itself, {LIMIT_WCU:,.0f} WCU/s (an ideal fleet writes exactly that)")
    return all(ok for _, checks, _ in results for _, ok in checks.values())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(json.loads(sys.argv[2]))), flush=True)
    else:
        sys.exit(0 if main() else 1)
