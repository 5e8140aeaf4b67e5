"""The field verification loop (issue 7 part 4): verdicts and notes carried to persisting
patches, rejected patches not reported again (dropped or flagged), new patches unverified,
and verified patches as labelled training rows."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import affinity
from shapely.geometry import box

from rs.change.verification import (
    NOT_ACTIVITY,
    carry_verdicts,
    normalise_verdicts,
    training_rows,
)
from rs.errors import RsWarning, SpecError

CRS = "EPSG:32650"


def _previous() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"patch_id": [1, 2, 3],
         "type": ["construction", "mining", "road"],
         "verification": ["confirmed", "rejected", "unverified"],
         "note": ["new factory, visited 2026-05-02", "shadow of a cliff", ""]},
        geometry=[box(0, 0, 100, 100), box(500, 0, 600, 100), box(1000, 0, 1400, 20)],
        crs=CRS)


def _new() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"patch_id": [10, 11, 12, 13],
         "type": ["construction", "mining", "farmland_reclamation", "road"]},
        geometry=[affinity.translate(box(0, 0, 100, 100), 10, 5),  # the factory, grown a bit
                  box(505, 0, 600, 95),  # the rejected shadow again
                  box(3000, 3000, 3200, 3100),  # new
                  box(1000, 0, 1050, 20)],  # an eighth of the old road: IoU 0.125
        crs=CRS)


def test_persisting_patch_keeps_verdict_and_note_rejected_dropped_new_unverified() -> None:
    out = carry_verdicts(_new(), _previous())
    assert list(out["patch_id"]) == [10, 12, 13]  # the rejected one is not reported again
    first = out.set_index("patch_id").loc[10]
    assert first["verification"] == "confirmed"
    assert first["note"] == "new factory, visited 2026-05-02"
    assert first["previous_patch_id"] == 1
    assert first["match_score"] == pytest.approx(8550 / 11450)  # IoU of the shifted square
    new = out.set_index("patch_id").loc[12]
    assert new["verification"] == "unverified" and new["note"] == ""
    assert new["previous_patch_id"] is None
    road = out.set_index("patch_id").loc[13]
    assert road["verification"] == "unverified"  # IoU 0.125 < 0.5


def test_rejected_flagged_when_asked() -> None:
    out = carry_verdicts(_new(), _previous(), rejected="flag").set_index("patch_id")
    assert len(out) == 4
    assert out.loc[11, "verification"] == "rejected"
    assert out.loc[11, "note"] == "shadow of a cliff"
    assert out["previously_rejected"].tolist() == [False, True, False, False]


def test_overlap_share_matches_a_part_of_a_larger_patch() -> None:
    out = carry_verdicts(_new(), _previous(), measure="overlap").set_index("patch_id")
    assert out.loc[13, "verification"] == "unverified"  # the old one was unverified
    assert out.loc[13, "previous_patch_id"] == 3  # but matched: all of it inside the old road
    assert out.loc[13, "match_score"] == pytest.approx(1.0)


def test_threshold_and_best_match() -> None:
    prev = _previous()
    prev.loc[2, "verification"] = "confirmed"
    prev.loc[2, "note"] = "village road"
    new = _new().iloc[[3]]
    assert carry_verdicts(new, prev, min_overlap=0.1)["note"].tolist() == ["village road"]
    assert carry_verdicts(new, prev, min_overlap=0.2)["note"].tolist() == [""]
    # two previous patches under one new patch: the better overlap wins
    two = gpd.GeoDataFrame({"patch_id": [1, 2], "verification": ["rejected", "confirmed"],
                            "note": ["a", "b"]},
                           geometry=[box(0, 0, 30, 100), box(30, 0, 100, 100)], crs=CRS)
    one = gpd.GeoDataFrame({"patch_id": [9]}, geometry=[box(0, 0, 100, 100)], crs=CRS)
    got = carry_verdicts(one, two, measure="overlap", min_overlap=0.25)
    assert got["verification"].tolist() == ["confirmed"] and got["note"].tolist() == ["b"]


def test_no_previous_layer_and_other_crs() -> None:
    out = carry_verdicts(_new(), None)
    assert set(out["verification"]) == {"unverified"} and len(out) == 4
    prev = _previous().to_crs("EPSG:4326")
    out = carry_verdicts(_new(), prev).set_index("patch_id")
    assert out.loc[10, "verification"] == "confirmed"
    assert 11 not in out.index


def test_bad_parameters_refused() -> None:
    with pytest.raises(SpecError, match="min_overlap"):
        carry_verdicts(_new(), _previous(), min_overlap=0)
    with pytest.raises(SpecError, match="measure"):
        carry_verdicts(_new(), _previous(), measure="dice")  # type: ignore[arg-type]


def test_field_values_normalised() -> None:
    prev = _previous()
    prev["verification"] = [" Confirmed", None, "maybe"]
    prev["note"] = [None, "x", "y"]
    with pytest.warns(RsWarning, match="'maybe'"):
        out = normalise_verdicts(prev)
    assert out["verification"].tolist() == ["confirmed", "unverified", "unverified"]
    assert out["note"].tolist() == ["", "x", "y"]


def test_training_rows() -> None:
    prev = _previous()
    prev["type_verified"] = [None, None, None]
    prev.loc[3] = [4, "mining", "confirmed", "", box(0, 500, 50, 550), "construction"]
    prev.loc[4] = [5, None, "confirmed", "", box(0, 900, 50, 950), None]
    with pytest.warns(RsWarning, match="1 confirmed patch"):
        rows = training_rows(prev)
    assert rows["patch_id"].tolist() == [1, 2, 4]  # the unverified road and the untyped out
    assert rows["type"].tolist() == ["construction", NOT_ACTIVITY, "construction"]
    assert rows.geometry.notna().all()
