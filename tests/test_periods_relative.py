"""Relative periods in specs: known answers on and around period boundaries, the UTC day of
$RS_NOW, pinning with as_of, and a real run recording the resolved dates."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rs.errors import SpecError
from rs.pipeline.graph import expand_runs
from rs.pipeline.periods import RelativePeriod
from rs.pipeline.schedule import now_utc
from rs.pipeline.spec import load_spec, parse_spec
from rs.testing import World

from .conftest import world_bbox

D = dt.date


@pytest.mark.parametrize(
    ("today", "rule", "start", "end"),
    [
        (D(2026, 11, 25), "last-complete-half-year", D(2026, 1, 1), D(2026, 6, 30)),
        (D(2026, 7, 1), "last-complete-half-year", D(2026, 1, 1), D(2026, 6, 30)),
        (D(2026, 6, 30), "last-complete-half-year", D(2025, 7, 1), D(2025, 12, 31)),
        (D(2026, 1, 1), "last-complete-half-year", D(2025, 7, 1), D(2025, 12, 31)),
        (D(2026, 11, 25), "last-complete-month", D(2026, 10, 1), D(2026, 10, 31)),
        (D(2026, 3, 1), "last-complete-month", D(2026, 2, 1), D(2026, 2, 28)),
        (D(2024, 3, 31), "last-complete-month", D(2024, 2, 1), D(2024, 2, 29)),
        (D(2026, 1, 15), "last-complete-month", D(2025, 12, 1), D(2025, 12, 31)),
        (D(2026, 11, 25), "last-complete-quarter", D(2026, 7, 1), D(2026, 9, 30)),
        (D(2026, 10, 1), "last-complete-quarter", D(2026, 7, 1), D(2026, 9, 30)),
        (D(2026, 9, 30), "last-complete-quarter", D(2026, 4, 1), D(2026, 6, 30)),
        (D(2026, 2, 10), "last-complete-quarter", D(2025, 10, 1), D(2025, 12, 31)),
        (D(2026, 11, 25), "last-complete-year", D(2025, 1, 1), D(2025, 12, 31)),
        (D(2026, 12, 31), "last-complete-year", D(2025, 1, 1), D(2025, 12, 31)),
        (D(2027, 1, 1), "last-complete-year", D(2026, 1, 1), D(2026, 12, 31)),
    ],
)
def test_relative_period__known_answers(today: D, rule: str, start: D, end: D) -> None:
    assert RelativePeriod(relative=rule).dates(today) == (start, end)  # type: ignore[arg-type]


def test_relative_period__last_days_end_yesterday() -> None:
    p = RelativePeriod(relative="last-days", days=30)
    assert p.dates(D(2026, 11, 25)) == (D(2026, 10, 26), D(2026, 11, 24))
    one = RelativePeriod(relative="last-days", days=1)
    assert one.dates(D(2026, 3, 1)) == (D(2026, 2, 28), D(2026, 2, 28))


@given(
    today=st.dates(min_value=D(1901, 1, 1), max_value=D(2199, 12, 31)),
    unit=st.sampled_from([("month", 1), ("quarter", 3), ("half-year", 6), ("year", 12)]),
)
def test_relative_period__is_the_latest_complete_calendar_period(
    today: D, unit: tuple[str, int]
) -> None:
    name, months = unit
    start, end = RelativePeriod(relative=f"last-complete-{name}").dates(today)  # type: ignore[arg-type]
    nxt = end + dt.timedelta(days=1)
    assert end < today, "complete: it ended before the day of the run"
    assert start.day == 1 and (start.month - 1) % months == 0, "calendar-aligned"
    assert (nxt.year * 12 + nxt.month) - (start.year * 12 + start.month) == months
    # the next period of that kind (starting the day after) has not ended by today
    assert nxt.day == 1 and (nxt.month - 1) % months == 0 and nxt <= today
    assert (today.year * 12 + today.month) - (nxt.year * 12 + nxt.month) < months


def test_relative_period__days_only_with_last_days() -> None:
    with pytest.raises(ValueError, match="'days' goes with 'relative: last-days'"):
        RelativePeriod(relative="last-days")
    with pytest.raises(ValueError, match="'days' goes with"):
        RelativePeriod(relative="last-complete-month", days=3)


def _spec(periods: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "aoi": "10,10,10.1,10.1",
        "sources": {"s2": {"embedded": "demo", "collections": ["sentinel-2-l2a"]}},
        "periods": periods,
        "steps": [
            {"id": "composite", "kind": "composite", "bands": ["red", "nir"]},
            {
                "id": "change",
                "kind": "difference",
                "before": "composite@prev",
                "after": "composite@last",
                "layer": "composite",
                "periods": ["last"],
            },
        ],
        "output": "out",
        **extra,
    }


HALVES = {
    "last": {"relative": "last-complete-half-year"},
    "prev": {"relative": "last-complete-year"},
}


def test_parse_spec__relative_periods_resolved_and_referenced_by_name(tmp_path: Path) -> None:
    spec = parse_spec(_spec(HALVES), base=tmp_path, today=D(2026, 11, 25))
    ids = [r.item_id("t") for r in expand_runs(spec)]
    assert ids == [
        "t-composite-last-20260101-20260630",
        "t-composite-prev-20250101-20251231",
        "t-change-last-20260101-20260630",
    ], "named by the definition (step@last), dated in file and item names"
    (change,) = [r for r in expand_runs(spec) if r.step.id == "change"]
    assert [u.period.label for u in change.upstream["before"]] == ["prev-20250101-20251231"]
    last = spec.all_periods()["last"][0]
    assert last.rule() == {"relative": "last-complete-half-year", "as_of": "2026-11-25"}


def test_load_spec__rs_now_is_the_utc_day(tmp_path: Path, monkeypatch) -> None:
    import yaml

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_spec(HALVES)))
    monkeypatch.setenv("RS_NOW", "2026-07-01T00:00:00Z")  # the first day of H2: H1 complete
    assert load_spec(path).all_periods()["last"][0].start == D(2026, 1, 1)
    # 01:00 in UTC+8 on 1 July is still 30 June in UTC: H1 is not complete yet
    monkeypatch.setenv("RS_NOW", "2026-07-01T01:00:00+08:00")
    assert now_utc() == dt.datetime(2026, 6, 30, 17, 0, tzinfo=dt.UTC)
    assert load_spec(path).all_periods()["last"][0].start == D(2025, 7, 1)
    monkeypatch.setenv("RS_NOW", "2026-11-25")  # a bare date: that day
    assert load_spec(path).all_periods()["prev"][0].end == D(2025, 12, 31)
    monkeypatch.setenv("RS_NOW", "last tuesday")
    with pytest.raises(SpecError, match="RS_NOW='last tuesday' is not an ISO 8601 date"):
        load_spec(path)


def test_parse_spec__as_of_pins_and_a_resolved_spec_reads_back(tmp_path: Path) -> None:
    pinned = {"last": {"relative": "last-complete-month", "as_of": "2026-07-01"}}
    spec = parse_spec(
        {**_spec(pinned), "steps": _spec(pinned)["steps"][:1]},  # the composite only
        base=tmp_path,
        today=D(2030, 1, 1),
    )
    (p,) = spec.all_periods()["last"]
    assert (p.start, p.end, p.as_of) == (D(2026, 6, 1), D(2026, 6, 30), D(2026, 7, 1))
    dumped = spec.model_dump(mode="json")  # as the run report holds the spec
    again = parse_spec(dumped, base=tmp_path, today=D(2030, 1, 1))
    assert again.all_periods() == spec.all_periods(), "a report's spec replays the same dates"
    dumped["periods"]["last"]["start"] = "2026-05-01"
    with pytest.raises(SpecError, match=r"periods\.last: start/end .* do not match relative"):
        parse_spec(dumped, base=tmp_path)


def test_parse_spec__unknown_relative_rule_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"periods\.last\.relative: Input should be .*last-days"):
        parse_spec(_spec({"last": {"relative": "last-week"}}), base=tmp_path)


def test_rs_run__relative_period_dates_recorded(
    small_world: World, write_spec, rs_cli, monkeypatch
) -> None:
    # the small world has scenes on 2022-03-07 and 2022-06-19 in 2022-H1
    spec = write_spec(
        small_world.root, world_bbox(small_world), period={"relative": "last-complete-half-year"}
    )
    monkeypatch.setenv("RS_NOW", "2022-07-01T02:00:00Z")
    done = rs_cli("run", str(spec))
    assert done.returncode == 0, done.stderr[-3000:]
    out = spec.parent / "out"
    item = json.loads((out / "items" / "t-composite-p-20220101-20220630.json").read_text())
    props = item["properties"]
    assert props["rs:relative_period"] == {
        "relative": "last-complete-half-year",
        "as_of": "2022-07-01",
    }
    assert props["start_datetime"].startswith("2022-01-01") and props["end_datetime"].startswith(
        "2022-06-30"
    )
    report = json.loads((out / "reports" / "t-latest.json").read_text())
    assert report["periods"]["p"] == [
        {
            "name": "p",
            "label": "p-20220101-20220630",
            "start": "2022-01-01",
            "end": "2022-06-30",
            "relative": "last-complete-half-year",
            "as_of": "2022-07-01",
        }
    ]
    assert report["spec"]["periods"]["p"]["as_of"] == "2022-07-01"
