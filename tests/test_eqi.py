"""EQI (rs.ecology.eqi): hand-computed answers, monotonicity, class and change boundaries,
configuration overrides and their validation, missing values, sensed measures on small arrays
with counted answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from rs.ecology.eqi import (
    SENSED,
    LandCoverGroups,
    change_patch_share,
    class_shares,
    compute_eqi,
    default_config,
    eqi_change,
    eqi_config,
    human_disturbance,
    patch_density,
    productivity_proxy,
    sensed_indicators,
    shares_from_class_areas,
    vegetation_cover,
)
from rs.errors import SpecError
from rs.testing.landcover import LandCover

#: One polygon, raw values of every default indicator
POLYGON = {
    "ecological_land_share": 0.6,
    "fragmentation": 2.0,  # natural patches per km²
    "vegetation_cover": 0.5,
    "productivity_proxy": 0.7,
    "water_conservation": 40.0,
    "vascular_plant_diversity": 60.0,
    "wild_animal_diversity": 80.0,
    "human_disturbance": 0.25,
}


def table(*rows: dict[str, float], ids: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(list(rows), index=ids or [f"p{i}" for i in range(len(rows))])


def single(**over: object) -> dict[str, object]:
    """Overrides leaving one dimension with one table indicator 'x' (0..100): EQI == x."""
    return {
        "dimensions": {
            "ecological_pattern": None, "ecological_function": None, "ecological_stress": None,
            "biodiversity": {"weight": 1.0, "indicators": {
                "vascular_plant_diversity": None, "wild_animal_diversity": None,
                "x": {"weight": 1.0, "direction": "positive", "source": "table",
                      "normalise": {"method": "minmax", "lower": 0, "upper": 100}},
            }},
        },
        **over,
    }


# -- the index -----------------------------------------------------------------------------

def test_hand_computed_polygon() -> None:
    r = compute_eqi(table(POLYGON, ids=["county"])).loc["county"]
    # ecological pattern: ecological land 0.6 on 0..1 -> 60 (positive: q 60);
    #   fragmentation 2 per km² on 0..10 -> 20 (negative: q = 100 - 20 = 80)
    #   q_pattern = 0.5 * 60 + 0.5 * 80 = 70
    # ecological function: FVC 0.5 -> 50, NDVI 0.7 -> 70, water conservation 40 -> 40
    #   q_function = (50 + 70 + 40) / 3 = 53.333...
    # biodiversity: plants 60, animals 80 -> q = 0.5 * 60 + 0.5 * 80 = 70
    # ecological stress: human disturbance 0.25 -> 25 (negative: q = 75), the stress index 25
    # EQI = 0.35 * 70 + 0.35 * 53.333 + 0.20 * 70 + 0.10 * 75
    #     = 24.5 + 18.6667 + 14 + 7.5 = 64.6667 -> 二类 (55 <= EQI < 70)
    assert r["score_ecological_land_share"] == pytest.approx(60)
    assert r["score_fragmentation"] == pytest.approx(20)
    assert r["score_human_disturbance"] == pytest.approx(25)
    assert r["q_ecological_pattern"] == pytest.approx(70)
    assert r["q_ecological_function"] == pytest.approx(160 / 3)
    assert r["q_biodiversity"] == pytest.approx(70)
    assert r["q_ecological_stress"] == pytest.approx(75)
    assert r["eqi"] == pytest.approx(24.5 + 0.35 * 160 / 3 + 14 + 7.5)
    assert r["eqi"] == pytest.approx(64.6667, abs=1e-4)
    assert r["eqi_class"] == 2 and r["eqi_class_label"] == "二类 class II"
    assert r["reason"] == ""


def test_coefficient_normalisation_is_capped_at_100() -> None:
    cfg = eqi_config({"dimensions": {"ecological_function": {"indicators": {
        "water_conservation": {"normalise": {"method": "coefficient", "coefficient": 2.5}}}}}})
    r = compute_eqi(table({**POLYGON, "water_conservation": 20.0},
                          {**POLYGON, "water_conservation": 50.0}), cfg)
    assert r["score_water_conservation"].tolist() == pytest.approx([50.0, 100.0])  # 125 capped
    # only the function dimension moves: (50 + 70 + 50) / 3 and (50 + 70 + 100) / 3
    assert r["q_ecological_function"].tolist() == pytest.approx([170 / 3, 220 / 3])


def test_values_outside_the_bounds_are_clipped() -> None:
    r = compute_eqi(table({**POLYGON, "fragmentation": 25.0}, {**POLYGON, "fragmentation": -1.0}))
    assert r["score_fragmentation"].tolist() == [100.0, 0.0]


@pytest.mark.parametrize(("name", "values", "sign"), [
    ("ecological_land_share", np.linspace(0, 1, 11), 1),
    ("vegetation_cover", np.linspace(0, 1, 11), 1),
    ("wild_animal_diversity", np.linspace(0, 100, 11), 1),
    ("human_disturbance", np.linspace(0, 1, 11), -1),
    ("fragmentation", np.linspace(0, 10, 11), -1),
])
def test_monotone(name: str, values: np.ndarray, sign: int) -> None:
    eqi = compute_eqi(table(*({**POLYGON, name: float(v)} for v in values)))["eqi"].to_numpy()
    assert np.all(sign * np.diff(eqi) > 0), eqi


@pytest.mark.parametrize(("x", "code"), [
    (100, 1), (70, 1), (69.99, 2), (55, 2), (54.99, 3), (40, 3), (39.99, 4), (30, 4),
    (29.99, 5), (0, 5), (69.996, 1),  # 69.996 is 70.00 at 2 decimals
])
def test_class_boundaries(x: float, code: int) -> None:
    r = compute_eqi(table({"x": x}), eqi_config(single()))
    assert r["eqi"].iloc[0] == pytest.approx(x)
    assert r["eqi_class"].iloc[0] == code


def test_class_without_rounding() -> None:
    r = compute_eqi(table({"x": 69.996}), eqi_config(single(decimals=None)))
    assert r["eqi_class"].iloc[0] == 2


@pytest.mark.parametrize(("before", "after", "code", "level", "label"), [
    (60.0, 60.0, 0, "stable", "无明显变化 no obvious change"),
    (60.0, 60.99, 0, "stable", "无明显变化 no obvious change"),
    (60.0, 59.01, 0, "stable", "无明显变化 no obvious change"),
    (60.0, 61.0, 1, "slight", "slightly better"),
    (30.01, 32.01, 2, "obvious", "obviously better"),  # 1.9999999999999964 in floats
    (34.01, 30.01, -3, "significant", "significantly worse"),  # -3.9999999999999964
    (60.0, 59.0, -1, "slight", "slightly worse"),
    (60.0, 61.99, 1, "slight", "slightly better"),
    (60.0, 62.0, 2, "obvious", "obviously better"),
    (60.0, 56.5, -2, "obvious", "obviously worse"),
    (60.0, 64.0, 3, "significant", "significantly better"),
    (60.0, 56.0, -3, "significant", "significantly worse"),
    (20.0, 90.0, 3, "significant", "significantly better"),
])
def test_change_classes(before: float, after: float, code: int, level: str,
                        label: str) -> None:
    r = eqi_change(pd.DataFrame({"eqi": [before]}, index=["a"]),
                   pd.DataFrame({"eqi": [after]}, index=["a"])).loc["a"]
    assert r["delta_eqi"] == pytest.approx(after - before)
    assert (r["change_code"], r["change_level"], r["change_class"]) == (code, level, label)
    assert r["reason"] == ""


def test_change_of_computed_years_matches_polygons_by_id() -> None:
    y1 = compute_eqi(table(POLYGON, {**POLYGON, "human_disturbance": 0.0}, ids=["a", "b"]))
    y2 = compute_eqi(table({**POLYGON, "human_disturbance": 0.75}, POLYGON, ids=["b", "a"]))
    ch = eqi_change(y1, y2)
    assert list(ch.index) == ["a", "b"]
    assert ch.loc["a", "delta_eqi"] == pytest.approx(0)
    # b: disturbance 0 -> 0.75: stress quality 100 -> 25, ΔEQI = 0.10 * (25 - 100) = -7.5
    assert ch.loc["b", "delta_eqi"] == pytest.approx(-7.5)
    assert ch.loc["b", "change_class"] == "significantly worse"


# -- configuration -------------------------------------------------------------------------

def test_defaults_are_valid_and_documented() -> None:
    cfg = default_config()
    assert sum(d.weight for d in cfg.dimensions.values()) == pytest.approx(1)
    assert set(cfg.dimensions) == {"ecological_pattern", "ecological_function", "biodiversity",
                                   "ecological_stress"}
    for _, name, ind in cfg.indicators():
        assert ind.label and ind.ref, name
        if ind.source == "sensed":
            assert (ind.column or name) in SENSED
    assert [c.min for c in cfg.classes] == [70, 55, 40, 30, None]
    assert [lv.min_abs for lv in cfg.change] == [0, 1, 2, 4]
    lc = cfg.landcover  # the synthetic land cover's codes
    assert set(lc.ecological) == {LandCover.WATER, LandCover.FOREST, LandCover.GRASSLAND}
    assert lc.built_up == [LandCover.BUILT_UP]
    assert {LandCover(k).name.lower() for k in lc.names} == set(lc.names.values())


def test_yaml_overrides_merge_onto_the_defaults() -> None:
    text = """
    on_missing: row
    dimensions:
      biodiversity: {weight: 0.30}
      ecological_stress: {weight: 0.0001}
      ecological_function: {weight: 0.2499}
      ecological_pattern:
        weight: 0.45
        indicators:
          fragmentation: null
          ecological_land_share: {weight: 1.0}
    """
    cfg = eqi_config(yaml.safe_load(text))
    assert cfg.on_missing == "row"
    assert list(cfg.dimensions["ecological_pattern"].indicators) == ["ecological_land_share"]
    assert cfg.dimensions["biodiversity"].weight == 0.30
    assert cfg.dimensions["ecological_function"].indicators["vegetation_cover"].weight \
        == pytest.approx(1 / 3)  # untouched parts keep their defaults
    # an override on top of an already overridden configuration
    cfg2 = eqi_config({"decimals": None}, base=cfg)
    assert cfg2.decimals is None and cfg2.on_missing == "row"


def test_a_new_table_indicator_enters_the_index() -> None:
    cfg = eqi_config({"dimensions": {"biodiversity": {"indicators": {
        "vascular_plant_diversity": {"weight": 0.25},
        "wild_animal_diversity": {"weight": 0.25},
        "protected_species": {"weight": 0.5, "direction": "positive", "source": "table",
                              "column": "key_species_index",
                              "normalise": {"method": "minmax", "lower": 0, "upper": 50}},
    }}}})
    r = compute_eqi(table({**POLYGON, "key_species_index": 25.0}), cfg).iloc[0]
    assert r["score_protected_species"] == pytest.approx(50)
    assert r["q_biodiversity"] == pytest.approx(0.25 * 60 + 0.25 * 80 + 0.5 * 50)


@pytest.mark.parametrize(("over", "words"), [
    ({"dimensions": {"biodiversity": {"weight": 0.3}}}, "dimension weights must sum to 1"),
    ({"dimensions": {"ecological_pattern": {"indicators": {"fragmentation": None}}}},
     "indicator weights must sum to 1, got 0.5"),
    ({"dimensions": {"biodiversity": {"wieght": 0.2}}},
     "unknown key 'dimensions.biodiversity.wieght'"),
    ({"colour": "green"}, "unknown key 'colour'"),
    ({"dimensions": {"ecological_pattern": {"indicators": {"fragmentation": {
        "normalise": {"method": "minmax", "lower": 5, "upper": 5}}}}}}, "must be above lower"),
    ({"dimensions": {"ecological_pattern": {"indicators": {"fragmentation": {
        "source": "sensed", "column": "forest_share"}}}}}, "rs does not compute"),
    ({"dimensions": {"ecological_pattern": {"indicators": {"fragmentation": {
        "direction": "down"}}}}}, "direction"),
    ({"classes": [{"code": 1, "label": "a", "min": 50}, {"code": 2, "label": "b", "min": 60},
                  {"code": 3, "label": "c", "min": None}]}, "min must decrease"),
    ({"classes": [{"code": 1, "label": "a", "min": 50}]}, "last class"),
    ({"change": [{"min_abs": 1, "name": "x", "better": "b", "worse": "w"}]}, "start at 0"),
    ({"landcover": {"built_up": [1]}}, "both ecological and built_up"),
    ({"on_missing": "skip"}, "on_missing"),
])
def test_bad_overrides_are_refused(over: dict[str, object], words: str) -> None:
    with pytest.raises(SpecError, match="eqi config") as e:
        eqi_config(over)
    assert words in str(e.value)


def test_config_is_frozen_and_overrides_must_be_a_mapping() -> None:
    cfg = default_config()
    with pytest.raises(ValidationError):
        cfg.on_missing = "row"  # type: ignore[misc]
    with pytest.raises(SpecError, match="mapping"):
        eqi_config(["on_missing", "row"])  # type: ignore[arg-type]


# -- missing values ------------------------------------------------------------------------

def test_missing_value_error_names_polygon_and_indicator() -> None:
    rows = table(POLYGON, {**POLYGON, "water_conservation": math.nan},
                 {**POLYGON, "wild_animal_diversity": None}, ids=["a", "Lishui", "c"])
    with pytest.raises(SpecError, match=r"polygon 'Lishui' has no value for water_conservation"
                       r".*also missing: polygons 'c'.*on_missing: row"):
        compute_eqi(rows)


def test_missing_value_row_mode() -> None:
    cfg = eqi_config({"on_missing": "row"})
    rows = table(POLYGON, {**POLYGON, "water_conservation": math.nan,
                           "wild_animal_diversity": math.inf}, ids=["a", "b"])
    r = compute_eqi(rows, cfg)
    alone = compute_eqi(table(POLYGON, ids=["a"]))
    assert r.loc["a", "eqi"] == alone.loc["a", "eqi"]
    assert math.isnan(r.loc["b", "eqi"]) and pd.isna(r.loc["b", "eqi_class"])
    assert r.loc["b", "reason"] == "missing: water_conservation, wild_animal_diversity"
    assert math.isnan(r.loc["b", "q_biodiversity"])
    assert r.loc["b", "q_ecological_pattern"] == alone.loc["a", "q_ecological_pattern"]
    # a year without EQI for b: its change is NaN with the reason carried
    full = compute_eqi(table(POLYGON, POLYGON, ids=["a", "b"]))
    ch = eqi_change(r, full, cfg)
    assert ch.loc["a", "change_code"] == 0
    assert pd.isna(ch.loc["b", "change_code"]) and math.isnan(ch.loc["b", "delta_eqi"])
    why = "(missing: water_conservation, wild_animal_diversity)"
    assert ch.loc["b", "reason"] == f"no EQI before {why}"
    assert eqi_change(full, r, cfg).loc["b", "reason"] == f"no EQI after {why}"


def test_missing_column_is_always_an_error() -> None:
    rows = table(POLYGON).drop(columns="wild_animal_diversity")
    for mode in ("error", "row"):
        with pytest.raises(SpecError, match=r"no column 'wild_animal_diversity'.*biodiversity"):
            compute_eqi(rows, eqi_config({"on_missing": mode}))


def test_non_numbers_are_refused_not_taken_as_missing() -> None:
    rows = table(POLYGON, {**POLYGON, "wild_animal_diversity": "n/a"}, ids=["a", "b"])
    with pytest.raises(SpecError, match=r"'wild_animal_diversity'.*polygon 'b': 'n/a'"):
        compute_eqi(rows, eqi_config({"on_missing": "row"}))


def test_duplicate_polygon_ids_are_refused() -> None:
    with pytest.raises(SpecError, match="repeat"):
        compute_eqi(table(POLYGON, POLYGON, ids=["a", "a"]))


def test_change_with_a_polygon_in_one_year_only() -> None:
    y1 = pd.DataFrame({"eqi": [50.0, 60.0]}, index=["a", "b"])
    y2 = pd.DataFrame({"eqi": [52.0, 70.0]}, index=["a", "new"])
    with pytest.raises(SpecError, match=r"polygon 'b' has an EQI only before.*also: 'new'"):
        eqi_change(y1, y2)
    ch = eqi_change(y1, y2, eqi_config({"on_missing": "row"}))
    assert list(ch.index) == ["a", "b", "new"]
    assert ch.loc["a", "change_class"] == "obviously better"
    assert ch["reason"].tolist() == ["", "no EQI after", "no EQI before"]
    with pytest.raises(SpecError, match="column 'eqi'"):
        eqi_change(y1.rename(columns={"eqi": "EQI"}), y2)


# -- sensed measures -----------------------------------------------------------------------

GROUPS = LandCoverGroups(ecological=[1, 2, 4], built_up=[5], nodata=[0],
                         names={1: "water", 2: "forest", 3: "cropland", 5: "built_up"})
#: 4 x 5 land cover: 0 nodata (2 px), ecological 1/2/4 (8 px), built-up 5 (3 px)
CLASSES = np.array([
    [2, 2, 3, 5, 5],
    [2, 0, 3, 5, 1],
    [3, 3, 4, 3, 1],
    [4, 4, 3, 6, 0],
])


def test_class_shares_counted() -> None:
    s = class_shares(CLASSES, GROUPS)
    assert s["ecological_land_share"] == pytest.approx(8 / 18)
    assert s["built_up_share"] == pytest.approx(3 / 18)
    w = np.ones(CLASSES.shape)
    w[:, 0] = 0.5  # half of the first column in the polygon: 2, 2, 3, 4
    s = class_shares(CLASSES, GROUPS, w)
    assert s["ecological_land_share"] == pytest.approx((8 - 1.5) / 16)
    assert s["built_up_share"] == pytest.approx(3 / 16)
    assert all(math.isnan(v) for v in class_shares(np.zeros((2, 2), int), GROUPS).values())


def test_patch_density_counted() -> None:
    km2 = 18 * 900 / 1e6  # 18 valid 30 m pixels
    # 4-neighbour patches: the three 2s, the two 1s, the 4 at (2,2), the 4s at (3,0)-(3,1)
    assert patch_density(CLASSES, GROUPS, 900.0, connectivity=4) == pytest.approx(4 / km2)
    # 8-neighbour: (2,2) touches (3,1) by a corner -> 3 patches
    assert patch_density(CLASSES, GROUPS, 900.0) == pytest.approx(3 / km2)
    w = np.ones(CLASSES.shape)
    w[3, 1] = 0.0  # outside the polygon: the corner link is gone, the area one pixel less
    assert patch_density(CLASSES, GROUPS, 900.0, weights=w) == pytest.approx(4 / (17 * 900e-6))
    natural_only_forest = GROUPS.model_copy(update={"natural": [2]})
    assert patch_density(CLASSES, natural_only_forest, 900.0) == pytest.approx(1 / km2)
    assert math.isnan(patch_density(np.zeros((3, 3), int), GROUPS, 900.0))
    with pytest.raises(ValueError, match="2-D"):
        patch_density(CLASSES.ravel(), GROUPS, 900.0)


def test_means_and_change_share_counted() -> None:
    fvc = np.array([[0.2, np.nan], [0.6, 1.0]])
    assert vegetation_cover(fvc) == pytest.approx(0.6)  # (0.2 + 0.6 + 1.0) / 3
    assert vegetation_cover(fvc, np.array([[1, 1], [1, 0]])) == pytest.approx(0.4)
    ndvi = np.array([[-0.2, 0.4], [0.8, np.nan]])
    assert productivity_proxy(ndvi) == pytest.approx(0.4)  # (0 + 0.4 + 0.8) / 3
    assert math.isnan(vegetation_cover(np.full((2, 2), np.nan)))
    change = np.array([[0, 1, 2], [1, 255, 0]])
    assert change_patch_share(change) == pytest.approx(2 / 5)
    assert change_patch_share(change, disturbed=(1, 2)) == pytest.approx(3 / 5)
    assert human_disturbance(1 / 6, 0.4) == pytest.approx(1 / 6 + 0.4)
    assert human_disturbance(0.8, 0.5) == 1.0
    np.testing.assert_allclose(human_disturbance(pd.Series([0.1, 0.9]), np.array([0.1, 0.9])),
                               [0.2, 1.0])


def test_sensed_indicators_of_one_polygon() -> None:
    rng = np.random.default_rng(3)
    fvc = rng.uniform(0, 1, CLASSES.shape)
    ndvi = rng.uniform(-0.3, 0.9, CLASSES.shape)
    change = np.where(CLASSES == 5, 1, 0)  # the built-up pixels are new
    s = sensed_indicators(CLASSES, GROUPS, 900.0, fvc=fvc, ndvi=ndvi, change=change)
    assert set(s) == set(SENSED)
    assert s["vegetation_cover"] == pytest.approx(fvc.mean())
    assert s["productivity_proxy"] == pytest.approx(np.clip(ndvi, 0, None).mean())
    assert s["change_patch_share"] == pytest.approx(3 / 20)
    assert s["human_disturbance"] == pytest.approx(3 / 18 + 3 / 20)
    assert set(sensed_indicators(CLASSES, GROUPS, 900.0)) == {
        "ecological_land_share", "built_up_share", "fragmentation"}


def test_shares_from_class_areas() -> None:
    areas = pd.DataFrame({
        "area_m2": [1000.0, 0.0], "count": [10, 0],  # not class columns: ignored
        "area_m2_water": [100.0, 0.0], "area_m2_forest": [300.0, 0.0],
        "area_m2_5": [100.0, 0.0], "area_m2_cropland": [500.0, 0.0],
        "area_m2_0": [7000.0, 0.0],  # nodata class: left out
    }, index=["P", "empty"])
    s = shares_from_class_areas(areas, GROUPS)
    assert s.loc["P"].tolist() == pytest.approx([0.4, 0.1])
    assert s.loc["empty"].isna().all()
    with pytest.raises(SpecError, match="'area_m2_marsh'"):
        shares_from_class_areas(areas.assign(area_m2_marsh=1.0), GROUPS)


def test_from_arrays_to_eqi_more_built_up_is_worse() -> None:
    """Two polygons alike but for land cover: sensed measures + a user table -> EQI."""
    green = np.full((10, 10), 2)
    urban = green.copy()
    urban[:5] = 5
    rows = {}
    for name, lc in (("green", green), ("urban", urban)):
        s = sensed_indicators(lc, GROUPS, 900.0, fvc=np.where(lc == 2, 0.8, 0.1),
                              ndvi=np.where(lc == 2, 0.7, 0.1), change=np.zeros_like(lc))
        rows[name] = {**s, "water_conservation": 50.0, "vascular_plant_diversity": 50.0,
                      "wild_animal_diversity": 50.0}
    r = compute_eqi(pd.DataFrame.from_dict(rows, orient="index"))
    assert r.loc["green", "eqi"] > r.loc["urban", "eqi"]
    assert r.loc["green", "score_ecological_land_share"] == 100.0
    assert r.loc["urban", "score_human_disturbance"] == 50.0
