"""Progress reporting for long runs: rich bars in a terminal, silence for cron (--quiet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from rs._redact import redact

__all__ = ["QuietReporter", "Reporter", "RichReporter"]


class Reporter(Protocol):
    """What the runner tells the person (or log) watching it."""

    def stage(self, message: str) -> None: ...

    def bar(self, description: str, total: int) -> Callable[[int], None]: ...

    def close(self) -> None: ...


class QuietReporter:
    """Reports nothing: for scheduled jobs. Errors still reach stderr through the CLI."""

    def stage(self, message: str) -> None:
        return None

    def bar(self, description: str, total: int) -> Callable[[int], None]:
        return lambda n: None

    def close(self) -> None:
        return None


class RichReporter:
    """Stage lines and progress bars on stderr (rich disables animation when not a TTY)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._started = False

    def stage(self, message: str) -> None:
        self.console.print(f"[bold cyan]•[/] {redact(message)}")  # no secret in a log

    def bar(self, description: str, total: int) -> Callable[[int], None]:
        if not self._started:
            self._progress.start()
            self._started = True
        task = self._progress.add_task(description, total=total)
        return lambda n: self._progress.advance(task, n)

    def close(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False
