"""Periods: explicit ranges and calendar series."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rs.pipeline.periods import PeriodRange, PeriodSeries, expand_period

D = dt.date


def test_expand_period__half_years_named_by_calendar() -> None:
    ps = expand_period(
        "h", PeriodSeries(every="half-year", start=D(2021, 1, 1), end=D(2022, 12, 31))
    )
    assert [(p.name, p.start, p.end) for p in ps] == [
        ("2021-H1", D(2021, 1, 1), D(2021, 6, 30)),
        ("2021-H2", D(2021, 7, 1), D(2021, 12, 31)),
        ("2022-H1", D(2022, 1, 1), D(2022, 6, 30)),
        ("2022-H2", D(2022, 7, 1), D(2022, 12, 31)),
    ]
    assert [p.label for p in ps] == [p.name for p in ps], "whole half-years: calendar labels"


@pytest.mark.parametrize(
    ("every", "names"),
    [
        ("month", ["2022-02", "2022-03", "2022-04"]),
        ("quarter", ["2022-Q1", "2022-Q2"]),
        ("year", ["2022"]),
    ],
)
def test_expand_period__clipped_to_start_and_end(every, names) -> None:
    ps = expand_period("x", PeriodSeries(every=every, start=D(2022, 2, 10), end=D(2022, 4, 5)))
    assert [p.name for p in ps] == names
    assert ps[0].start == D(2022, 2, 10) and ps[-1].end == D(2022, 4, 5)
    # clipped members carry their dates in names: never mistaken for the whole calendar period
    assert ps[0].label == f"{names[0]}-20220210-{ps[0].end:%Y%m%d}"
    assert ps[-1].label == f"{names[-1]}-{ps[-1].start:%Y%m%d}-20220405"


def test_expand_period__range_label_carries_dates() -> None:
    (p,) = expand_period("season", PeriodRange(start=D(2022, 4, 1), end=D(2022, 9, 30)))
    assert p.label == "season-20220401-20220930"
    assert p.as_stac() == "2022-04-01T00:00:00Z/2022-09-30T23:59:59Z"


@given(
    st.sampled_from(["month", "quarter", "half-year", "year"]),
    st.dates(D(2000, 1, 1), D(2030, 12, 31)),
    st.integers(0, 2000),
)
def test_expand_period__members_tile_the_range_exactly(every, start, days) -> None:
    end = start + dt.timedelta(days=days)
    ps = expand_period("x", PeriodSeries(every=every, start=start, end=end))
    assert ps[0].start == start and ps[-1].end == end
    for a, b in itertools.pairwise(ps):
        assert b.start == a.end + dt.timedelta(days=1), "no gap, no overlap"
    assert len({p.name for p in ps}) == len(ps)
