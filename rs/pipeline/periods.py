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
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import model_validator

from rs._model import Strict

__all__ = ["Period", "PeriodRange", "PeriodSeries", "expand_period"]

Every = Literal["month", "quarter", "half-year", "year"]
_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}


@dataclass(frozen=True, order=True)
class Period:
    """One concrete period: inclusive ``start`` .. ``end`` and the name files and items carry."""

    start: dt.date
    end: dt.date
    name: str
    whole: bool = False  # a whole calendar month, quarter, half-year or year

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


def expand_period(name: str, definition: PeriodRange | PeriodSeries) -> list[Period]:
    """The concrete periods of one named definition, in time order."""
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
