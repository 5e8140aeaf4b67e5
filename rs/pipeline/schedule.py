"""Cron schedules of pipeline specs, and the clock that runs and relative periods read.

Cron expressions are parsed by croniter (standard cron: minute hour day-of-month month
day-of-week, day-of-week 0 or 7 = Sunday; a sixth field, seconds, is croniter's extension) and
evaluated in UTC. rs parses no cron syntax itself.

:func:`now_utc` is the one clock of a run: ``$RS_NOW`` (an ISO 8601 date or date-time; without
an offset it is UTC) when set, so a test or a replay can pretend to run on a given day, else
the system clock.
"""

from __future__ import annotations

import datetime as dt
import os

from rs.errors import SpecError

__all__ = ["check_cron", "next_fires", "now_utc"]


def now_utc() -> dt.datetime:
    """The time of the run in UTC: ``$RS_NOW`` if set, else now."""
    text = os.environ.get("RS_NOW", "").strip()
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise SpecError(
            f"RS_NOW={text!r} is not an ISO 8601 date or date-time: write e.g. 2026-11-25 or "
            "2026-11-25T03:00:00Z, or unset it to use the clock"
        ) from e
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def check_cron(expr: str) -> str:
    """``expr`` stripped if croniter accepts it as a cron expression, else ``ValueError``
    saying what a cron expression looks like."""
    from croniter import croniter

    text = " ".join(str(expr).split())
    if len(text.split()) not in (5, 6) or not croniter.is_valid(text):
        raise ValueError(
            f"{expr!r} is not a cron expression: write 5 fields 'minute hour day month weekday' "
            "in UTC, e.g. '0 3 * * *' (03:00 every day) or '30 2 1 * *' (02:30 on the 1st), "
            "or 6 with seconds last"
        )
    return text


def next_fires(expr: str, after: dt.datetime, n: int = 1) -> list[dt.datetime]:
    """The ``n`` next times (UTC, strictly after ``after``) that ``expr`` fires."""
    from croniter import croniter

    it = croniter(check_cron(expr), after.astimezone(dt.UTC))
    return [it.get_next(dt.datetime) for _ in range(n)]
