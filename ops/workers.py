"""Worker processes on one host: run one function per worker in its own process, collect results;
and the identity a process holds a lease under (`host:pid:nonce`), so that a lease held by a
process of this host that died is taken over at once instead of after it expires.

Each worker is spawned (a fresh interpreter: no state forked from the parent), dies with the
parent (a `kill -9` of the command stops its workers too, instead of leaving them working on
their own), and sends back its result or its error. The first error stops the others: the work
they share is checkpointed in the control table, so running the command again resumes it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import queue
import signal
import socket
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ops.exceptions import OpsError

POLL_SECONDS = 1.0
LAST_RESULTS_SECONDS = 5.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead_here(owner: str) -> bool:
    """True when `owner` names a process on this host that no longer runs."""
    try:
        host, pid_text, _ = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


class WorkerFailed(OpsError):
    """A worker process of this host failed; the others were stopped."""


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _child(target: Callable[[Any], Any], argument: Any, number: int, results: Any, parent: int) -> None:
    _die_with_parent(parent)
    try:
        results.put(("ok", number, target(argument)))
    except BaseException as exc:  # reported to the parent, which stops the others
        results.put(("error", number, f"{type(exc).__name__}: {exc}"))


def run_workers(
    target: Callable[[Any], Any],
    arguments: Sequence[Any],
    *,
    what: str,
    on_tick: Callable[[int], None] | None = None,
) -> list[Any]:
    """`target(argument)` in one process per argument (an importable function, picklable
    arguments and results); the results in the order of `arguments`. `on_tick(alive)` is called
    about once a second while they run."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    children = [
        context.Process(target=_child, args=(target, argument, n, results, os.getpid()), name=f"{what}-{n}")
        for n, argument in enumerate(arguments)
    ]
    for child in children:
        child.start()
    done: dict[int, Any] = {}
    try:
        while len(done) < len(children):
            try:
                status, number, payload = results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if on_tick is not None:
                    on_tick(sum(1 for c in children if c.is_alive()))
                if any(c.is_alive() for c in children):
                    continue
                try:  # every process has exited: what they sent may still be in the pipe
                    status, number, payload = results.get(timeout=LAST_RESULTS_SECONDS)
                except queue.Empty:
                    raise WorkerFailed(
                        f"A {what} process ended without a result (killed?). Its work is checkpointed: "
                        "run the same command again to resume."
                    ) from None
            if status == "error":
                raise WorkerFailed(
                    f"{what} process {number + 1} of {len(children)} failed: {payload}. The other processes "
                    "were stopped; the work is checkpointed, so the same command resumes it."
                )
            done[number] = payload
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            child.join(timeout=30)
    return [done[n] for n in range(len(children))]
