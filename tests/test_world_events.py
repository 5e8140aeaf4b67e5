"""The planted events' JSON form (EventRecord): every kind round-trips, defaults fill what an
older world.json lacks, and a missing required field is named."""

from __future__ import annotations

import json
from datetime import date

import pytest

from rs.errors import SpecError
from rs.testing.activity import HumanActivity
from rs.testing.confusers import PhenologyShift, ThinCloud, WaterLevel
from rs.testing.events import EVENT_TYPES, VegetationLoss, event_from_dict

P = ((500.0, 200.0), (900.0, 200.0), (900.0, 640.0), (500.0, 200.0))
EVENTS = [
    VegetationLoss("clearing", P, date(2022, 5, 2), from_class=2, to_class=6),
    PhenologyShift("parcel", P, date(2022, 1, 1), "browner"),
    ThinCloud("haze", P, date(2022, 6, 1), date(2022, 8, 31), 0.45),
    WaterLevel("shore", P, date(2022, 3, 1), "rise"),
    HumanActivity("pit", "mining", P, date(2022, 4, 5), from_class=3),
]


def test_every_kind_is_covered_and_round_trips_through_json() -> None:
    assert {type(e).kind for e in EVENTS} == set(EVENT_TYPES)
    for e in EVENTS:
        d = json.loads(json.dumps(e.to_dict()))
        assert d["kind"] == type(e).kind and d["polygon"][1] == [900.0, 200.0]
        assert event_from_dict(d) == e


def test_defaults_fill_missing_fields_and_required_ones_are_named() -> None:
    d = EVENTS[0].to_dict()
    del d["from_class"], d["to_class"]
    assert event_from_dict(d) == VegetationLoss("clearing", P, date(2022, 5, 2))
    d = EVENTS[2].to_dict()
    del d["end_date"]
    with pytest.raises(SpecError, match="'thin_cloud' event needs 'end_date'"):
        event_from_dict(d)
