"""Runs the runbooks as written, in the order of the cutover, on a local stack of its own.

Each command runs in bash from the repository root, in the environment the commands before it
left (so `source .venv/bin/activate` and `eval "$(ops sandbox env)"` carry over, as in an
operator's shell); the walk starts without the venv on PATH. Its own stack lives in a temporary
folder on free ports (OPS_SANDBOX_DIR, OPS_SANDBOX_*_PORT=0), so `ops sandbox up` as written never
meets anyone else's. Tables print on one line each (COLUMNS), without colour.

The full walk also rehearses each phase's Rollback section and then goes forward again (the phase
commands from `ops migrate status`'s `next` up to where it was); the short walk runs the Steps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ops.migrate.phases import ORDER, Phase
from tests.runbook_walk.parse import ROOT, RUNBOOKS, Step, fill, normalize, pattern, profile, steps

# The walk's order: the infrastructure, the local rehearsal's set-up, the overview, the phases,
# rollback and cleanup, the notification operations, then the rehearsal's end.
# The phase runbooks are named after the phases, in the migration's order; cleanup's comes after
# rollback's.
PHASES = tuple(str(phase) for phase in ORDER if phase is not Phase.CLEANUP)
WALK: tuple[tuple[str, str], ...] = (
    ("infrastructure.md", "Steps"),
    ("local-rehearsal.md", "Steps"),
    ("README.md", "Steps"),
    *((f"{phase}.md", "Steps") for phase in PHASES),
    ("rollback.md", "Steps"),
    ("cleanup.md", "Steps"),
    ("notifications.md", "Steps"),
    ("local-rehearsal.md", "Ending the rehearsal"),
)
# Runbooks the walk takes in when they are there (another branch adds them); each AWS-only step of
# theirs says "Not on the local stack: <reason>".
OPTIONAL = frozenset({"infrastructure.md"})
COMMAND_TIMEOUT_SECONDS = 900
READY_TIMEOUT_SECONDS = 180
# Kept out of the walk's shell: it starts like a new operator's, and never points at another stack.
_INHERITED = ("HOME", "LANG", "LC_ALL", "USER", "LOGNAME", "SHELL", "TMPDIR", "JAVA_HOME")


@dataclass
class Outcome:
    step: str
    commands: list[str]
    status: str  # "ok" (ran as written), "failed", "skipped"
    seconds: float = 0.0
    detail: str = ""
    output: str = ""


@dataclass
class WalkReport:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and self.count("failed") == 0


@dataclass
class _Job:
    step: Step
    command: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float


def _base_environment(root: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(
        OPS_SANDBOX_DIR=str(root / "sandbox"),
        OPS_SANDBOX_PROD_PORT="0",
        OPS_SANDBOX_V2_PORT="0",
        OPS_SANDBOX_MOTO_PORT="0",
        OPS_SANDBOX_DYNAMODB_PORT="0",
        COLUMNS="1000",
        NO_COLOR="1",
        TERM="dumb",
        PYTHONUNBUFFERED="1",
    )
    return env


class Walker:
    def __init__(
        self,
        *,
        full: bool,
        overrides: dict[str, str] | None = None,
        on_outcome: Callable[[Outcome], None] = lambda _o: None,
    ) -> None:
        self.full = full
        self.values = {**profile(), **(overrides or {})}
        self.on_outcome = on_outcome
        self.workdir = Path(tempfile.mkdtemp(prefix="runbook-walk-"))
        self.env = _base_environment(self.workdir)
        self.envfile = self.workdir / "env"
        self.jobs: list[_Job] = []
        self.report = WalkReport()

    # ------------------------------------------------------------ the walk

    def run(self) -> WalkReport:
        started = time.monotonic()
        try:
            for runbook, section in WALK:
                if not self._runbook(runbook, section):
                    break
        finally:
            self._stop_everything()
            self.report.seconds = time.monotonic() - started
        if self.report.ok:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return self.report

    def _runbook(self, runbook: str, section: str) -> bool:
        if runbook in OPTIONAL and not (RUNBOOKS / runbook).exists():
            return True
        for step in steps(runbook, section):
            if not (step.commands or step.interrupt):
                continue  # prose: nothing to run
            if not self._step(step):
                return False
        if not self._wait_background(runbook):
            return False
        phase = runbook.removesuffix(".md")
        if self.full and section == "Steps" and phase in PHASES:
            return self._rollback_drill(runbook)
        return True

    def _rollback_drill(self, runbook: str) -> bool:
        drill = steps(runbook, "Rollback")
        if not drill:
            return True
        for step in drill:
            if not self._step(step):
                return False
        if not any(c.startswith("ops migrate rollback") for s in drill for c in s.commands if not s.skip):
            return True
        # Forward again: each phase's own command, from the one `next` names up to this runbook's.
        status = self._run_quiet("ops migrate status --json")
        following = str(json.loads(status)["next"] or "").removeprefix("ops migrate ")
        if following not in PHASES:
            return True
        for phase in PHASES[PHASES.index(following) : PHASES.index(runbook.removesuffix(".md")) + 1]:
            again = _phase_step(phase)
            again.label += " (forward again after the rollback drill)"
            again.background = again.keep = False
            if not self._step(again):
                return False
        return True

    # ------------------------------------------------------------ one step

    def _step(self, step: Step) -> bool:
        commands = [fill(c, self.values) for c in step.commands]
        if step.skip:
            self._record(Outcome(step.name, commands, "skipped", detail=step.skip))
            return True
        if step.interrupt:
            return self._interrupt(step)
        if step.background:
            return all(self._start(step, command) for command in commands)
        started = time.monotonic()
        outputs: list[str] = []
        problems: list[str] = []
        for command in commands:
            code, output = self._run(command, step.input)
            outputs.append(f"$ {command}\n{output}")
            if code != step.exit_code:
                problems.append(f"`{command}` exited {code}, expected {step.exit_code}")
                break
        output = "\n".join(outputs)
        if not problems:
            problems = _missing(step.expected, output)
        outcome = Outcome(
            step.name,
            commands,
            "failed" if problems else "ok",
            time.monotonic() - started,
            "; ".join(problems),
            output,
        )
        self._record(outcome)
        return not problems

    def _record(self, outcome: Outcome) -> None:
        self.report.outcomes.append(outcome)
        self.on_outcome(outcome)

    def _run(self, command: str, stdin: str) -> tuple[int, str]:
        script = f'{command}\n__rc=$?\nenv -0 > "{self.envfile}"\nexit $__rc\n'
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=ROOT,
                env=self.env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            partial = "".join(
                p if isinstance(p, str) else p.decode(errors="replace") for p in (exc.stdout, exc.stderr) if p
            )
            return -1, f"timed out after {COMMAND_TIMEOUT_SECONDS} s\n{partial}"
        if self.envfile.exists():
            pairs = self.envfile.read_bytes().split(b"\0")
            self.env = dict(p.decode().split("=", 1) for p in pairs if b"=" in p)
            self.envfile.unlink()
        return done.returncode, done.stdout + done.stderr

    def _run_quiet(self, command: str) -> str:
        code, output = self._run(command, "")
        if code != 0:
            raise RuntimeError(f"`{command}` exited {code}: {output[-2000:]}")
        return output

    # ------------------------------------------------------------ second terminals

    def _start(self, step: Step, command: str) -> bool:
        """A second terminal: the command runs on; False (recorded) when it ends before it is ready."""
        log = self.workdir / f"job-{len(self.jobs)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert process.stdin is not None
        process.stdin.write(step.input.encode())
        process.stdin.close()
        job = _Job(step, command, process, log, time.monotonic())
        self.jobs.append(job)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self._ready(step, log) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if process.poll() is not None and step.keep:
            return self._finish(job, 0) and False
        return True

    def _ready(self, step: Step, log: Path) -> bool:
        if step.ready and step.ready not in log.read_text(encoding="utf-8", errors="replace"):
            return False
        if step.ready_when:
            code, _output = self._run(step.ready_when, "")
            return code == 0
        return True

    def _finish(self, job: _Job, timeout: float) -> bool:
        try:
            job.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(job.process.pid, signal.SIGKILL)
            job.process.wait()
        self.jobs.remove(job)
        output = job.log.read_text(encoding="utf-8", errors="replace")
        code = job.process.returncode
        problems = [] if code == job.step.exit_code else [f"`{job.command}` exited {code}"]
        problems = problems or _missing(job.step.expected, output)
        self._record(
            Outcome(
                job.step.name,
                [job.command],
                "failed" if problems else "ok",
                time.monotonic() - job.started,
                "; ".join(problems),
                output,
            )
        )
        return not problems

    def _wait_background(self, runbook: str) -> bool:
        ok = True
        for job in [j for j in self.jobs if j.step.runbook == runbook and not j.step.keep]:
            ok = self._finish(job, COMMAND_TIMEOUT_SECONDS) and ok
        return ok

    def _interrupt(self, step: Step) -> bool:
        """Ctrl-C in the terminal running `step.interrupt`; its own step's Expected judges it."""
        target = next((j for j in self.jobs if j.command.startswith(str(step.interrupt))), None)
        if target is None:
            self._record(Outcome(step.name, [], "failed", detail=f"nothing running `{step.interrupt}`"))
            return False
        os.killpg(target.process.pid, signal.SIGINT)
        self._record(Outcome(step.name, [f"(Ctrl-C: {target.command})"], "ok"))
        return self._finish(target, 120)

    def _stop_everything(self) -> None:
        """What a failed walk leaves: its second terminals and its stack (nothing else is touched)."""
        for job in self.jobs:
            os.killpg(job.process.pid, signal.SIGTERM)
            try:
                job.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(job.process.pid, signal.SIGKILL)
                job.process.wait()
        self.jobs.clear()
        from ops.sandbox import Sandbox

        Sandbox(self.workdir / "sandbox").down(purge=True)


def _phase_step(phase: str) -> Step:
    """The step of a phase's runbook that completes the phase: its last `ops migrate <phase>` that is
    not a dry run and is expected to pass."""
    found = [
        step
        for step in steps(f"{phase}.md", "Steps")
        if step.exit_code == 0
        and any(c.startswith(f"ops migrate {phase}") and "--dry-run" not in c for c in step.commands)
    ]
    if not found:
        raise ValueError(f"{phase}.md has no step that runs `ops migrate {phase}` to completion")
    return found[-1]


def _missing(expected: list[str], output: str) -> list[str]:
    text = normalize(output)
    return [f"expected `{span}` not in the output" for span in expected if not pattern(span).search(text)]
