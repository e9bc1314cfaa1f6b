"""Run every `bench/bench_*.py` module's `main()` (or only those named on the command line).

Each benchmark measures the project's code and a baseline in the same run, prints both and
returns True when its targets are met; the run exits non-zero if any target is missed.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in argv] or names
    missing = sorted(set(wanted) - set(names))
    if missing:
        print(f"unknown benchmark(s): {', '.join(missing)}; available: {', '.join(names)}")
        return 2
    failed: list[str] = []
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        if not module.main():
            failed.append(name)
    print(f"\nbenchmarks: {len(wanted) - len(failed)} met targets, {len(failed)} missed", flush=True)
    if failed:
        print("missed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
