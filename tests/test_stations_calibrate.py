"""Calibration models (rs.stations.calibrate) on the synthetic truth: GroupKFold by station
without leakage, cross-validated R² within 0.02 of the theoretical value, the slope within 2 %,
and skops files with their model card (checksum and trusted types checked on loading)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rs.errors import AssetReadError, SpecError
from rs.stations.calibrate import Features, add_covariates, cross_validate, fit_model, predict
from rs.stations.matchup import MatchupParams, match
from rs.stations.modelcard import TRUSTED_TYPES, load_model, model_card, save_model
from rs.testing.stations import SyntheticNetwork, synthetic_network

SAT_ONLY = Features(numeric=("sat_value",), categorical=())


@pytest.fixture(scope="module")
def net() -> SyntheticNetwork:
    return synthetic_network()


@pytest.fixture(scope="module")
def table(net: SyntheticNetwork) -> pd.DataFrame:
    m = match(net.rasters, net.stations, net.observations,
              MatchupParams(variable="no2", qa_min=0.5))
    return add_covariates(m.table)


def test_covariates(table: pd.DataFrame) -> None:
    assert set(table["season"]) == {"DJF"}  # January
    # the middle of the overpass window is 13:30 local solar time at every station
    np.testing.assert_allclose(table["hour"], 13.5, atol=1e-3)
    t = add_covariates(pd.DataFrame({"time": pd.to_datetime(["2019-07-01T12:00Z"], utc=True),
                                     "lon": [-90.0]}))
    assert t["season"].tolist() == ["JJA"] and t["hour"].tolist() == [6.0]


def test_group_kfold_has_no_station_in_train_and_test(table: pd.DataFrame) -> None:
    cv = cross_validate(table, kinds=("linear",), features=SAT_ONLY, n_splits=5, seed=3)
    p = cv.predictions
    # every station's rows sit in one fold only: none of its rows can be in that fold's training
    assert (p.groupby("station_id")["fold"].nunique() == 1).all()
    assert sorted(p["fold"].unique()) == [0, 1, 2, 3, 4]
    folds = cv.metrics[cv.metrics["fold"] != "pooled"]
    assert (folds["shared_stations"] == 0).all()
    assert folds["test_stations"].sum() == p["station_id"].nunique() == 300
    assert np.isfinite(p["pred_linear"]).all()
    again = cross_validate(table, kinds=("linear",), features=SAT_ONLY, n_splits=5, seed=3)
    pd.testing.assert_frame_equal(again.predictions, p)  # seeded


def test_cross_validated_r2_and_slope_match_the_truth(net: SyntheticNetwork,
                                                      table: pd.DataFrame) -> None:
    used = table[table["usable"]]
    theory = net.theoretical_r2(used["sat_value"])
    assert 0.85 < theory < 0.95
    cv = cross_validate(table, kinds=("linear", "gbm"))
    lin_sat = cross_validate(table, kinds=("linear",), features=SAT_ONLY).pooled("linear")
    lin, gbm = cv.pooled("linear"), cv.pooled("gbm")
    assert abs(lin_sat["r2"] - theory) < 0.02
    assert abs(lin["r2"] - theory) < 0.02  # covariates that do not matter cost little
    assert theory - 0.03 < gbm["r2"] < theory + 0.02  # a flexible model cannot beat the noise
    assert lin_sat["rmse"] == pytest.approx(net.config.noise_sd, rel=0.05)
    model = fit_model(table, "linear", features=SAT_ONLY)
    slope = model.named_steps["model"].coef_[0]
    assert abs(slope / net.config.slope - 1) < 0.02
    assert abs(model.named_steps["model"].intercept_ - net.config.intercept) < 1.0


def test_save_and_load_with_a_model_card(table: pd.DataFrame, tmp_path: Path) -> None:
    cv = cross_validate(table, kinds=("gbm", "linear"), n_splits=4)
    for kind in ("gbm", "linear"):
        model = fit_model(table, kind)
        card = model_card(model, kind=kind, table=table, cv=cv, name=f"synthetic-{kind}",
                          created="2026-01-01T00:00:00Z")
        paths = save_model(model, tmp_path / kind, card)
        assert [p.name for p in paths] == [f"{kind}.skops", f"{kind}.card.json",
                                           f"{kind}.card.md"]
        loaded, card2 = load_model(tmp_path / f"{kind}.skops")
        np.testing.assert_array_equal(predict(loaded, table), predict(model, table))
        assert card2["features"] == {"numeric": ["sat_value", "hour"],
                                     "categorical": ["season", "land_cover", "station_type"]}
        assert card2["training_data"]["rows"] == int(table["usable"].sum())
        assert card2["training_data"]["stations"] == 300
        assert card2["training_data"]["matchup_parameters"]["qa_min"] == 0.5
        assert card2["cross_validation"]["pooled"] == pytest.approx(cv.pooled(kind))
        assert card2["cross_validation"]["n_splits"] == 4
        assert set(card2["versions"]) >= {"rs", "scikit-learn", "skops", "numpy"}
        assert set(card2["trusted_types"]) <= set(TRUSTED_TYPES)
        md = (tmp_path / f"{kind}.card.md").read_text()
        assert "GroupKFold" in md and card2["file"]["sha256"] in md
    assert json.loads((tmp_path / "linear.card.json").read_text())["coefficients"]["sat_value"] > 0
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))


def test_loading_refuses_changed_files_and_untrusted_types(table: pd.DataFrame,
                                                           tmp_path: Path) -> None:
    model = fit_model(table, "gbm")
    save_model(model, tmp_path / "m", model_card(model, kind="gbm", table=table))
    with pytest.raises(AssetReadError, match=r"not trusted: .*TreePredictor"):
        load_model(tmp_path / "m.skops", trusted=())
    data = (tmp_path / "m.skops").read_bytes()
    (tmp_path / "m.skops").write_bytes(data[:-10] + bytes(10))
    with pytest.raises(AssetReadError, match="does not match its card"):
        load_model(tmp_path / "m.skops")
    with pytest.raises(AssetReadError, match="cannot read model"):
        load_model(tmp_path / "none.skops")


def test_bad_input(table: pd.DataFrame) -> None:
    with pytest.raises(SpecError, match=r"no column.* land_cover"):
        cross_validate(table.drop(columns="land_cover"))
    few = table[table["station_id"].isin(["S0000", "S0001", "S0002"])]
    with pytest.raises(SpecError, match=r"needs at least that many stations .* have 3"):
        cross_validate(few, n_splits=5)
    with pytest.raises(SpecError, match="no usable matchup"):
        fit_model(table.assign(usable=False), "linear")
    with pytest.raises(SpecError, match="unknown model kind 'forest'"):
        fit_model(table, "forest")  # type: ignore[arg-type]
