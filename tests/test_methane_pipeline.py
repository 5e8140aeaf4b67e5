"""pipelines/methane.yaml end to end on the synthetic super-emitters (rs.testing.ch4_demo):
two sources of known rate (60 and 35 t/h) seen on four orbits under a known wind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from rs.testing.ch4_demo import SOURCES
from tests._pipelines import run_spec

REPO = Path(__file__).resolve().parents[1]


def _run(tmp: Path, rs_cache: Path, **step) -> Path:
    spec = yaml.safe_load((REPO / "pipelines" / "methane.yaml").read_text(encoding="utf-8"))
    spec["output"] = str(tmp / "out")
    spec["steps"][0].update(step)
    run_spec(spec, tmp / "methane.yaml", rs_cache)
    return tmp / "out"


def _source_of(row: pd.Series) -> str | None:
    """The source upwind of a plume's centroid: the plume lies downwind of its source, within
    1 degree along the wind and 0.25 degree across it."""
    w = np.array([row["wind_u"], row["wind_v"]])
    w = w / np.linalg.norm(w)
    best, cross_best = None, 0.25
    for s in SOURCES:
        r = np.array([row["lon"] - s.lon, row["lat"] - s.lat])
        along, cross = float(r @ w), abs(float(r[0] * w[1] - r[1] * w[0]))
        if 0 <= along < 1.0 and cross < cross_best:
            best, cross_best = s.name, cross
    return best


def test_methane__sources_found_with_their_rates(tmp_path, rs_cache):
    out = _run(tmp_path, rs_cache)
    (csv,) = out.glob("methane_plumes_*_emissions.csv")
    table = pd.read_csv(csv)
    table["source"] = table.apply(_source_of, axis=1)
    found = table.dropna(subset=["source"]).drop_duplicates(["date", "source"])
    rate = {s.name: s.rate_t_h for s in SOURCES}
    err = (found["q_t_h"] - found["source"].map(rate)).abs() / found["source"].map(rate)
    print(f"{len(found)} of 8 source-days found; |dQ|/Q median {err.median():.2f}, "
          f"values {sorted(err.round(2))}")
    assert len(found) >= 5
    assert err.median() <= 0.3
    assert (table["q_sigma_t_h"] > 0).all() and table["reason"].isna().all()
    (tif,) = out.glob("methane_plumes_*_anomaly.tif")
    import rasterio

    with rasterio.open(tif) as ds:
        anomaly = ds.read(1)
        for s in SOURCES:  # the period's mean enhancement is positive around each source
            row, col = ds.index(s.lon, s.lat)
            near = anomaly[max(0, row - 4):row + 5, max(0, col - 4):col + 5]
            assert np.nanmax(near) > 10
    from tests._gdal import check_outputs

    assert check_outputs(out) >= 2  # anomaly COG and plume layer, as GDAL/OGR see them


def test_methane__without_wind_plumes_are_kept_with_a_reason(tmp_path, rs_cache):
    out = _run(tmp_path, rs_cache, wind=None)
    (csv,) = out.glob("methane_plumes_*_emissions.csv")
    table = pd.read_csv(csv)
    assert len(table) >= 5 and table["q_t_h"].isna().all()
    assert table["reason"].str.contains("wind").all()
    assert (table["ime_kg"] > 0).all()
