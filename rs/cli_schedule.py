"""``rs schedule``: run pipeline specs on their cron expressions, in the foreground.

Registered on the ``rs`` group in :mod:`rs.cli` (which owns ``sys.exit``: failures go through
its ``_fail``, so exit codes follow :data:`rs.errors.EXIT_CODES`). Cron expressions are the
spec's ``schedule`` key or ``--cron``, parsed by croniter (:mod:`rs.pipeline.schedule`), in UTC.

Each fire runs the spec exactly as ``rs run SPEC --quiet`` would, in a child process (so a
crash or the memory of one run never reaches the scheduler): incremental (only what is new or
changed is built), the spec re-read at each fire (edits and relative periods apply), and the
output folder's lock preventing two runs of one output, also against runs started by cron or
by hand. A fire that comes while the spec's previous run is still going is skipped and logged;
fires missed while the machine was off are not caught up (the next run builds what is
missing anyway). Every fire and every outcome (exit code, what it means, the run report's
status and counts) is one log line on stdout, timestamped in UTC.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

__all__ = ["schedule"]


@dataclass
class _Job:
    path: Path
    name: str
    output: Path
    cron: str
    next: dt.datetime
    proc: subprocess.Popen[bytes] | None = None
    fired_at: dt.datetime | None = None


def _log(text: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    click.echo(f"{stamp} {text}", nl=True)
    sys.stdout.flush()


def _meaning(code: int) -> str:
    """What exit code ``code`` of ``rs run`` means (from :data:`rs.errors.EXIT_CODES`)."""
    from rs.errors import EXIT_CODES

    if code == 0:
        return "success"
    if code < 0:
        return f"killed by signal {-code}"
    names = sorted(cls.__name__ for cls, c in EXIT_CODES.items() if c == code)
    return ", ".join(names) if names else "unexpected error"


def _report_summary(job: _Job) -> str:
    """The status and step counts of the run report this fire wrote ('' if none)."""
    path = job.output / "reports" / f"{job.name}-latest.json"
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        started = dt.datetime.fromisoformat(report["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if job.fired_at is None or started < job.fired_at - dt.timedelta(seconds=1):
        return ""  # an older run's report: this fire wrote none (refused, bad spec)
    counts: dict[str, int] = {}
    for row in report.get("steps", []):
        counts[row.get("status", "?")] = counts.get(row.get("status", "?"), 0) + 1
    what = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no steps"
    return f"; report {path}: {report.get('status')} ({what})"


def _jobs(specs: tuple[Path, ...], cron: str | None, now: dt.datetime) -> list[_Job]:
    from rs.errors import SpecError
    from rs.pipeline.schedule import check_cron, next_fires
    from rs.pipeline.spec import load_spec

    jobs = []
    for path in specs:
        spec = load_spec(path)
        expr = cron or spec.schedule
        if expr is None:
            raise SpecError(
                f"{path}: no 'schedule' key and no --cron: add e.g. schedule: '0 3 * * *' to "
                "the spec (03:00 UTC every day), or give --cron"
            )
        try:
            expr = check_cron(expr)
        except ValueError as e:
            raise SpecError(f"{path}: --cron {e}") from e
        jobs.append(
            _Job(path.resolve(), spec.name, Path(spec.output), expr, next_fires(expr, now)[0])
        )
    return jobs


def _fire(job: _Job, now: dt.datetime) -> None:
    if job.proc is not None:
        _log(f"{job.name}: fire skipped, its previous run (pid {job.proc.pid}) is still going")
        return
    cmd = [sys.executable, "-m", "rs.cli", "run", str(job.path), "--quiet"]
    job.proc = subprocess.Popen(cmd)
    job.fired_at = now
    _log(f"{job.name}: started rs run {job.path} (pid {job.proc.pid})")


def _reap(job: _Job) -> bool:
    """Log the outcome of ``job``'s run if it ended; whether it did."""
    if job.proc is None or (code := job.proc.poll()) is None:
        return False
    _log(f"{job.name}: run ended with exit {code} ({_meaning(code)}){_report_summary(job)}")
    job.proc = None
    return True


def _loop(jobs: list[_Job], max_runs: int | None) -> None:
    from rs.pipeline.schedule import next_fires

    fired = ended = 0
    for job in jobs:
        _log(f"{job.name}: '{job.cron}' (UTC), next run {job.next:%Y-%m-%dT%H:%M:%SZ}")
    try:
        while True:
            ended += sum(_reap(job) for job in jobs)
            if max_runs is not None and ended >= max_runs:
                return
            now = dt.datetime.now(dt.UTC)
            for job in jobs:
                if now >= job.next:
                    if max_runs is None or fired < max_runs:
                        fired += job.proc is None  # a fire skipped for a running one: no run
                        _fire(job, now)
                    job.next = next_fires(job.cron, now)[0]
            wait = min(job.next for job in jobs) - dt.datetime.now(dt.UTC)
            time.sleep(min(1.0, max(0.05, wait.total_seconds())))
    finally:  # SIGTERM / Ctrl-C: stop the runs cleanly (they release their locks)
        for job in jobs:
            if job.proc is not None and job.proc.poll() is None:
                _log(f"{job.name}: stopping its run (pid {job.proc.pid})")
                job.proc.terminate()
                try:
                    job.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    job.proc.kill()
                    job.proc.wait()
                _reap(job)


@click.command("schedule")
@click.argument(
    "specs", metavar="SPEC...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--cron",
    metavar="EXPR",
    help="Cron expression (UTC) for every SPEC, instead of their 'schedule' keys.",
)
@click.option(
    "--next",
    "show_next",
    type=click.IntRange(min=1),
    metavar="N",
    help="Print the next N run times of each SPEC (after $RS_NOW if set) and exit.",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Stop after N runs have ended (default: run until stopped).",
)
def schedule(
    specs: tuple[Path, ...], cron: str | None, show_next: int | None, max_runs: int | None
) -> None:
    """Run each SPEC on its cron schedule until stopped (SIGTERM or Ctrl-C).

    A fire runs the spec as `rs run SPEC --quiet` does (incremental; a run of the same output
    already going is refused by its lock). One log line per fire and per outcome on stdout.
    """
    from rs.cli import _fail
    from rs.errors import RsError
    from rs.pipeline.schedule import next_fires, now_utc

    try:
        now = now_utc() if show_next else dt.datetime.now(dt.UTC)
        jobs = _jobs(specs, cron, now)
    except RsError as e:
        _fail(e)
        return
    if show_next:
        for job in jobs:
            times = next_fires(job.cron, now, show_next)
            click.echo(f"{job.path} '{job.cron}' (UTC) after {now:%Y-%m-%dT%H:%M:%SZ}:")
            for t in times:
                click.echo(f"  {t:%Y-%m-%dT%H:%M:%SZ}")
        return
    try:
        _loop(jobs, max_runs)
    except KeyboardInterrupt:
        pass  # Ctrl-C: the runs were stopped by _loop
    finally:
        _log("scheduler stopped")
