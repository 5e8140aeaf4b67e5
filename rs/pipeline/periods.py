"""Named periods of a pipeline spec: explicit date ranges and regular calendar series (pure).

A spec names its periods::

    periods:
      season: {start: 2022-04-01, end: 2022-09-30}           # one explicit range
      halves: {every: half-year, start: 2022-01-01, end: 2023-12-31}   # a series

A series expands into calendar-aligned members, clipped to ``start`` .. ``end``, each named by
its calendar label: ``2022`` (year), ``2022-H1`` (half-year), ``2022-Q3`` (quarter),
``2022-05`` (month). A step that lists ``halves`` runs for each member; ``step@2022-H1`` names
one member's output. A member the series clips (a series starting mid-year) keeps its calendar
name but carries its dates in file and item names.

A relative period is resolved against a day (the run's UTC date, given by the caller: this
module reads no clock) into a :class:`ResolvedPeriod`, an explicit range that keeps its rule::

      last_half: {relative: last-complete-half-year}   # also -month, -quarter, -year
      recent: {relative: last-days, days: 30}          # the 30 days before today
      pinned: {relative: last-complete-month, as_of: 2026-11-25}   # resolved on that day

"Complete" means ended before the day of the run: on 2026-07-01 the last complete half-year is
2026-01-01 .. 2026-06-30, on 2026-06-30 it is 2025-07-01 .. 2025-12-31. ``last-days`` ends the
day before. Like an explicit range, it is named by its definition (``step@last_half``) and its
files carry its dates (``last_half-20260101-20260630``), so each resolution is its own output.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, model_validator

from rs._model import Strict

__all__ = [
    "Period",
    "PeriodRange",
    "PeriodSeries",
    "RelativePeriod",
    "ResolvedPeriod",
    "describe_periods",
    "expand_period",
]

Every = Literal["month", "quarter", "half-year", "year"]
_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}


@dataclass(frozen=True, order=True)
class Period:
    """One concrete period: inclusive ``start`` .. ``end`` and the name files and items carry."""

    start: dt.date
    end: dt.date
    name: str
    whole: bool = False  # a whole calendar month, quarter, half-year or year
    #: for a relative period: its rule, ``days`` of ``last-days`` and the day it was resolved on
    relative: str = field(default="", compare=False)
    days: int | None = field(default=None, compare=False)
    as_of: dt.date | None = field(default=None, compare=False)

    def rule(self) -> dict[str, Any] | None:
        """A relative period's rule and resolution day (``None`` for other periods)."""
        if not self.relative:
            return None
        days = {"days": self.days} if self.days is not None else {}
        return {"relative": self.relative, **days, "as_of": str(self.as_of)}

    @property
    def label(self) -> str:
        """The period in file and item names: a whole calendar period's label (``2022-H1``),
        else the name with its dates (``season-20220401-20220930``, or ``2022-20220401-20221231``
        for a year a series clips), so outputs of different date ranges never share a name."""
        if self.whole:
            return self.name
        return f"{self.name}-{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    def as_stac(self) -> str:
        """The period as a STAC ``datetime`` interval covering both days entirely."""
        return f"{self.start_datetime:%Y-%m-%dT%H:%M:%SZ}/{self.end_datetime:%Y-%m-%dT%H:%M:%SZ}"

    @property
    def start_datetime(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, dt.UTC)

    @property
    def end_datetime(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time.max, dt.UTC)


class PeriodRange(Strict):
    """An explicit inclusive date range."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> PeriodRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class PeriodSeries(PeriodRange):
    """Every month, quarter, half-year or year between ``start`` and ``end`` (inclusive)."""

    every: Every


Relative = Literal[
    "last-complete-month",
    "last-complete-quarter",
    "last-complete-half-year",
    "last-complete-year",
    "last-days",
]


class RelativePeriod(Strict):
    """A period relative to the day of the run (or to ``as_of``), e.g. the last complete
    half-year; :meth:`resolve` turns it into dates."""

    relative: Relative
    days: int | None = Field(default=None, ge=1, description="with last-days: how many")
    as_of: dt.date | None = Field(default=None, description="resolve on this day, not today")

    @model_validator(mode="after")
    def _days(self) -> RelativePeriod:
        if (self.relative == "last-days") != (self.days is not None):
            raise ValueError(
                "'days' goes with 'relative: last-days' (e.g. {relative: last-days, days: 30}) "
                "and only with it"
            )
        return self

    def dates(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """Inclusive start and end of the period as of ``today``."""
        if self.relative == "last-days":
            assert self.days is not None
            return today - dt.timedelta(days=self.days), today - dt.timedelta(days=1)
        step = _MONTHS[self.relative.removeprefix("last-complete-")]
        # the calendar-aligned period containing today started on `first`: the one before it
        first = dt.date(today.year, ((today.month - 1) // step) * step + 1, 1)
        year, month = _add_months(first.year, first.month, -step)
        return dt.date(year, month, 1), first - dt.timedelta(days=1)

    def resolve(self, today: dt.date) -> ResolvedPeriod:
        """The period resolved on ``as_of`` if given, else on ``today``."""
        day = self.as_of or today
        start, end = self.dates(day)
        return ResolvedPeriod(
            relative=self.relative, days=self.days, as_of=day, start=start, end=end
        )


class ResolvedPeriod(PeriodRange):
    """A relative period resolved on ``as_of`` into ``start`` .. ``end`` (as the run report's
    spec records it; such a mapping read back is checked to match its rule)."""

    relative: Relative
    days: int | None = Field(default=None, ge=1)
    as_of: dt.date

    @model_validator(mode="after")
    def _matches(self) -> ResolvedPeriod:
        want = RelativePeriod(relative=self.relative, days=self.days).dates(self.as_of)
        if (self.start, self.end) != want:
            raise ValueError(
                f"start/end ({self.start}..{self.end}) do not match relative "
                f"{self.relative!r} as of {self.as_of} ({want[0]}..{want[1]}): remove start "
                "and end"
            )
        return self


def describe_periods(named: dict[str, list[Period]]) -> dict[str, list[dict[str, Any]]]:
    """Each definition's concrete periods (name, label, dates; a relative one's rule), for a
    run report, so a scheduled run's dates can be traced."""
    return {
        name: [
            {
                "name": p.name,
                "label": p.label,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                **(p.rule() or {}),
            }
            for p in periods
        ]
        for name, periods in named.items()
    }


def _label(every: str, year: int, month: int) -> str:
    if every == "year":
        return f"{year}"
    if every == "half-year":
        return f"{year}-H{(month - 1) // 6 + 1}"
    if every == "quarter":
        return f"{year}-Q{(month - 1) // 3 + 1}"
    return f"{year}-{month:02d}"


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    k = year * 12 + (month - 1) + n
    return k // 12, k % 12 + 1


def expand_period(name: str, definition: PeriodRange | RelativePeriod) -> list[Period]:
    """The concrete periods of one named definition, in time order (a relative period must be
    resolved first: :meth:`RelativePeriod.resolve`)."""
    if isinstance(definition, RelativePeriod):
        raise TypeError(f"period {name!r} is relative: resolve it on a day first")
    if isinstance(definition, ResolvedPeriod):
        d = definition
        return [Period(d.start, d.end, name, relative=d.relative, days=d.days, as_of=d.as_of)]
    if not isinstance(definition, PeriodSeries):
        return [Period(definition.start, definition.end, name)]
    step = _MONTHS[definition.every]
    # the calendar-aligned period containing ``start``
    year = definition.start.year
    month = ((definition.start.month - 1) // step) * step + 1
    out = []
    while dt.date(year, month, 1) <= definition.end:
        ny, nm = _add_months(year, month, step)
        first = dt.date(year, month, 1)
        last = dt.date(ny, nm, 1) - dt.timedelta(days=1)
        start, end = max(first, definition.start), min(last, definition.end)
        label = _label(definition.every, year, month)
        out.append(Period(start, end, label, whole=(start, end) == (first, last)))
        year, month = ny, nm
    return out
