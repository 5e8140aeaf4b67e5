"""Run reports: one JSON file per run, named by pipeline and time, and a pointer to the latest.

Layout inside an output folder::

    reports/<pipeline>-<UTC time>.json   every run: done, up to date or failed
    reports/<pipeline>-latest.json       a copy of the latest of that pipeline (for schedulers)
    reports/<pipeline>-<UTC time>.html   the same for a person (rs.pipeline.html_report), and
    reports/<pipeline>-latest.html       its copy

Secrets in URLs (user-info, token / signature query values) are masked (rs._redact) in both.

A dry run writes nothing. A failed run writes its report too: which step and period
failed, the error, the exit code and what to change, so a scheduler can read why without
parsing stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rs._redact import redact_obj
from rs.errors import RsWarning
from rs.export._atomic import atomic_path
from rs.pipeline.html_report import write_html_report

__all__ = ["StepOutcome", "write_report"]


@dataclass
class StepOutcome:
    """What happened to one step x period."""

    step: str
    kind: str
    period: str
    item_id: str
    status: str  # built, up-to-date, would-run, failed, empty, skipped
    reason: str = ""  # why a step x period is built (new, changed, forced), empty or skipped
    run_key: str = ""
    scenes_found: int = 0
    scenes_used: list[str] = field(default_factory=list)
    scenes_skipped: list[dict[str, Any]] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    item_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%S%fZ")


def write_report(out_dir: Path, pipeline: str, started: dt.datetime, body: dict[str, Any]) -> Path:
    """Write the report of a run started at ``started`` (JSON, then HTML); returns the JSON
    report's path."""
    folder = Path(out_dir) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    report = redact_obj(
        json.loads(json.dumps({"pipeline": pipeline, "started": started.isoformat(), **body},
                              default=str))
    )
    text = json.dumps(report, indent=2)
    path = folder / f"{pipeline}-{_stamp(started)}.json"
    for target in (path, folder / f"{pipeline}-latest.json"):
        with atomic_path(target) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    try:
        write_html_report(Path(out_dir), path, report)
    except (OSError, ValueError) as e:  # the JSON report stands; say why the page is missing
        warnings.warn(f"the HTML run report could not be written: {e}", RsWarning, stacklevel=2)
    return path
