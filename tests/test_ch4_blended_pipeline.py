"""pipelines/ch4_blended.yaml on the real blended TROPOMI+GOSAT CH4 orbits (skips without
../shared): the gridded period mean's weighted total equals the area-weighted pixel mean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
import xarray as xr
import yaml

from tests._pipelines import run_spec

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "real" / "tropomi" / "ch4_blended"


def test_ch4_blended__grid_mean_equals_area_weighted_pixel_mean(tmp_path, rs_cache):
    if not DATA.is_dir():
        pytest.skip(f"real data not present: {DATA}")
    from rs.atmos import apply_qa, read_swath

    spec = yaml.safe_load((REPO / "pipelines" / "ch4_blended.yaml").read_text(encoding="utf-8"))
    spec["sources"]["blended"]["folder"] = str(DATA)
    spec["output"] = str(tmp_path / "out")
    run_spec(spec, tmp_path / "s.yaml", rs_cache)
    (nc,) = (tmp_path / "out").glob("*_grid.nc")
    ds = xr.open_dataset(nc, engine="h5netcdf")
    mean, weight = ds["ch4_blended"].values, ds["ch4_blended_weight"].values
    have = weight > 0
    gridded = float((mean[have] * weight[have]).sum() / weight[have].sum())
    # independent: every QA-passing pixel inside the bbox, weighted by its area (planar degrees)
    w, s, e, n = (float(v) for v in spec["aoi"].split(","))
    num = den = 0.0
    for f in sorted(DATA.glob("S5P_BLND_*.nc")):
        sw, _ = apply_qa(read_swath(f, "ch4_blended"))
        quads = shapely.polygons(np.stack([sw.lon_bounds, sw.lat_bounds], axis=-1))
        inside = shapely.area(shapely.intersection(quads, shapely.box(w, s, e, n)))
        num += float((sw.value * inside).sum())
        den += float(inside.sum())
    print(f"gridded {gridded:.4f} ppb, pixels {num / den:.4f} ppb, {int(have.sum())} cells")
    assert gridded == pytest.approx(num / den, abs=1.0)  # the goal: within 1 ppb
