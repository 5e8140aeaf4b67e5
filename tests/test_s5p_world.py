"""The synthetic Sentinel-5P swaths of rs.testing.s5p: geometry, noise, clouds, file names and
layout (compared with the real ESA metadata-only files when present)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import h5netcdf
import numpy as np
import pytest

from rs.atmos._polygons import KM_PER_DEG_LAT, KM_PER_DEG_LON, corner_problems, signed_areas
from rs.load.readers import SwathReader, s5p_times
from rs.testing.s5p import Hotspot, Plume, S5PConfig, generate_s5p, simulate

#: Real data folder beside the repository (../shared/data/real), as tests/test_readers.py finds it
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
S5P_META = REAL / "tropomi/s5p_l2_metadata_only"


def _edge_km(lon_a: np.ndarray, lat_a: np.ndarray, lon_b: np.ndarray,
             lat_b: np.ndarray) -> np.ndarray:
    mid = np.radians(0.5 * (lat_a + lat_b))
    dx = (lon_b - lon_a) * KM_PER_DEG_LON * np.cos(mid)
    return np.hypot(dx, (lat_b - lat_a) * KM_PER_DEG_LAT)


def test_pixels__5p5_by_7_km_at_nadir_widening_toward_the_edges() -> None:
    s = simulate(S5PConfig(n_ground_pixels=215, n_scanlines=6, cloud_fraction=0.0))
    lon, lat = s.lon_bounds[3], s.lat_bounds[3]  # one scanline: (ground_pixel, corner)
    across = _edge_km(lon[:, 0], lat[:, 0], lon[:, 1], lat[:, 1])
    along = _edge_km(lon[:, 0], lat[:, 0], lon[:, 3], lat[:, 3])
    nadir = 215 // 2
    assert across[nadir] == pytest.approx(5.5, rel=0.01)
    assert along[nadir] == pytest.approx(7.0, rel=0.02)
    assert across[0] > 1.8 * across[nadir] and across[-1] > 1.8 * across[nadir]
    assert np.all(np.diff(across[nadir:]) > 0) and np.all(np.diff(across[: nadir + 1]) < 0)
    swath_km = across.sum()
    assert 1300 < swath_km < 1700  # 215 pixels of 5.5 km at nadir: a ~1500 km swath


def test_the_450_pixel_no2_geometry_spans_2600_km() -> None:
    s = simulate(S5PConfig(product="no2", n_ground_pixels=450, nadir_across_km=3.5,
                           along_km=5.5, n_scanlines=4, cloud_fraction=0.0))
    lon, lat = s.lon_bounds[2], s.lat_bounds[2]
    across = _edge_km(lon[:, 0], lat[:, 0], lon[:, 1], lat[:, 1])
    assert across[225] == pytest.approx(3.5, rel=0.01)
    assert across[0] / across[225] > 3.5  # TROPOMI: ~3.5 km at nadir, ~14 km at the edge
    assert 2400 < across.sum() < 2800


def test_corners__shared_by_neighbours_counter_clockwise_convex() -> None:
    s = simulate(S5PConfig(cloud_fraction=0.0))
    lon, lat = s.lon_bounds, s.lat_bounds
    # corner 1 of a pixel is corner 0 of its eastern neighbour; corner 3 is corner 0 above
    assert np.array_equal(lon[:, :-1, 1], lon[:, 1:, 0])
    assert np.array_equal(lat[1:, :, 0], lat[:-1, :, 3])
    flat_lon, flat_lat = lon.reshape(-1, 4), lat.reshape(-1, 4)
    assert (signed_areas(flat_lon, flat_lat) > 0).all()
    assert not corner_problems(flat_lon, flat_lat).any()
    # ground pixels run west to east, scanlines south to north (an ascending pass)
    assert (np.diff(s.lon[60]) > 0).all() and (np.diff(s.lat[:, 30]) > 0).all()


def test_same_seed_same_swath__other_seed_other_noise_and_clouds() -> None:
    a, b = simulate(S5PConfig(seed=3)), simulate(S5PConfig(seed=3))
    c = simulate(S5PConfig(seed=4))
    assert np.array_equal(a.value, b.value, equal_nan=True) and np.array_equal(a.qa, b.qa)
    assert not np.array_equal(a.value, c.value, equal_nan=True)
    assert not np.array_equal(a.cloudy, c.cloudy)
    assert np.array_equal(a.lon_bounds, c.lon_bounds)  # geometry does not depend on the seed


def test_noise_clouds_fill_and_qa_levels() -> None:
    s = simulate(S5PConfig(product="ch4", n_scanlines=200, cloud_fraction=0.3,
                           fill_fraction=0.05, noise=8.0, seed=2))
    clear = s.qa == 1.0
    resid = (s.value - s.truth)[clear]
    assert np.std(resid) == pytest.approx(8.0, rel=0.05)
    assert abs(np.mean(resid)) < 0.5
    assert s.cloudy.mean() == pytest.approx(0.3, abs=0.01)
    assert np.isnan(s.value[s.cloudy]).all() and (s.qa[s.cloudy] == 0).all()
    assert set(np.unique(s.qa)) == {0.0, 0.4, 1.0}
    failed = ~s.cloudy & np.isnan(s.value)
    assert failed.mean() == pytest.approx(0.05 * 0.7, abs=0.01)

    no2 = simulate(S5PConfig(product="no2", cloud_fraction=0.3, seed=2))
    assert np.isfinite(no2.value[no2.cloudy]).all()  # NO2 keeps cloudy retrievals, low qa
    assert set(np.unique(no2.qa)) == {0.4, 0.65, 1.0}


def test_hotspot_of_known_amplitude_where_it_was_put() -> None:
    spot = Hotspot(lon=118.9, lat=32.1, amplitude=40.0, sigma_km=15.0)
    s = simulate(S5PConfig(hotspots=(spot,), cloud_fraction=0.0, noise=0.0))
    assert s.field_at(np.array(118.9), np.array(32.1)) == pytest.approx(1880.0 + 40.0)
    peak = np.unravel_index(np.argmax(s.truth), s.truth.shape)
    assert abs(s.lon[peak] - 118.9) < 0.07 and abs(s.lat[peak] - 32.1) < 0.07
    assert 1880 + 36 < s.truth.max() < 1880 + 40  # a footprint mean: slightly below the peak
    assert np.array_equal(s.value, s.truth)


@pytest.mark.parametrize("lat", [32.0, 60.0, -10.0])
def test_plume_holds_its_known_mass(lat: float) -> None:
    """Σ ΔXCH4 → column (kg m-2) x pixel area over the swath = rate x length / wind speed."""
    plume = Plume(118.8, lat, rate_t_h=30.0, wind_u=-3.0, wind_v=4.0, length_km=150.0)
    s = simulate(S5PConfig(plumes=(plume,), lat=lat, n_ground_pixels=100, noise=0.0,
                           cloud_fraction=0.0))
    assert plume.mass_kg == pytest.approx(30_000 / 3600 * 150_000 / 5.0)
    lon_b, lat_b = s.lon_bounds.reshape(-1, 4), s.lat_bounds.reshape(-1, 4)
    area_m2 = (np.abs(signed_areas(lon_b, lat_b)) * KM_PER_DEG_LON * KM_PER_DEG_LAT * 1e6
               * np.cos(np.radians(s.lat.reshape(-1))))
    column = s.plume.reshape(-1) * 1e-9 * s.surface_pressure.reshape(-1) * 0.01604 / (
        9.80665 * 0.0289644)  # ppb -> kg m-2 with each pixel's surface pressure
    assert np.sum(column * area_m2) == pytest.approx(plume.mass_kg, rel=0.005)
    np.testing.assert_allclose(s.truth - s.plume, simulate(
        S5PConfig(lat=lat, n_ground_pixels=100, noise=0.0, cloud_fraction=0.0)).truth)
    # downwind (north-west) only, strongest next to the source
    peak = np.unravel_index(np.argmax(s.plume), s.plume.shape)
    assert 0 <= s.lat[peak] - lat < 0.2 and -0.2 < s.lon[peak] - 118.8 <= 0.05
    upwind = (s.lat < lat - 0.2)
    assert s.plume[upwind].max() < 1e-6
    assert 30 < s.plume.max() < 120  # ppb: a 30 t/h source in 5.5 x 7 km pixels


def test_bad_corners_planted_with_good_qa() -> None:
    s = simulate(S5PConfig(bad_corners=5, cloud_fraction=0.0))
    bad = corner_problems(s.lon_bounds.reshape(-1, 4), s.lat_bounds.reshape(-1, 4))
    assert bad.sum() == 5 and (s.qa.reshape(-1)[bad] == 1.0).all()


def test_a_pass_over_the_antimeridian_has_crossing_pixels() -> None:
    s = simulate(S5PConfig(lon=179.9, lat=-10.0, cloud_fraction=0.0))
    lon = s.lon_bounds.reshape(-1, 4)
    crossing = np.ptp(lon, axis=1) > 180
    assert crossing.sum() > 50  # a column of pixels per scanline straddles ±180
    assert not corner_problems(lon, s.lat_bounds.reshape(-1, 4)).any()
    assert (np.abs(lon) <= 180).all()


def test_file_name__s5p_convention_found_by_the_swath_reader(tmp_path: Path) -> None:
    start = dt.datetime(2022, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    path, s = generate_s5p(tmp_path, S5PConfig(product="no2", start=start, orbit=22_761))
    assert path.name.startswith("S5P_OFFL_L2__NO2____20220304T050607_20220304T")
    assert "_22761_02_020400_" in path.name
    t0, t1 = s5p_times(path.name)  # type: ignore[misc]
    assert t0 == start
    assert t1 == dt.datetime.fromisoformat(f"{s.time[-1].astype('datetime64[s]')}+00:00")
    refs = SwathReader().find(tmp_path, "2022-03-04", "2022-03-04")
    assert [r.id for r in refs] == [path.stem]
    ok, skipped = SwathReader().preflight(refs, on_error="skip", needs={
        "variables": ["PRODUCT/qa_value", "PRODUCT/SUPPORT_DATA/GEOLOCATIONS/latitude_bounds"]})
    assert len(ok) == 1 and not skipped


@pytest.mark.realdata
@pytest.mark.parametrize("product", ["no2", "ch4"])
def test_layout_matches_the_real_esa_files(tmp_path: Path, product: str) -> None:
    """Groups, PRODUCT dimensions, global attributes and fill values of a synthetic file are
    those of the real (metadata-only) ESA L2 file of the same product."""
    if not S5P_META.is_dir():
        pytest.skip(f"real data folder {S5P_META} is absent")
    real_path = next(S5P_META.glob(f"S5P_OFFL_L2__{product.upper()}____*.nc"))
    n_pixels = 450 if product == "no2" else 215
    path, _ = generate_s5p(tmp_path, S5PConfig(product=product,  # type: ignore[arg-type]
                                               n_ground_pixels=n_pixels, n_scanlines=4,
                                               nadir_across_km=3.0))
    with h5netcdf.File(real_path, "r") as real, h5netcdf.File(path, "r") as ours:
        assert set(real.groups) == set(ours.groups) == {"PRODUCT", "METADATA"}
        real_dims = {k: d.size for k, d in real["PRODUCT"].dimensions.items()}
        our_dims = {k: d.size for k, d in ours["PRODUCT"].dimensions.items()}
        assert set(our_dims) == set(real_dims)
        for name in set(real_dims) - {"scanline"}:
            assert our_dims[name] == real_dims[name], name
        assert set(real.attrs) >= {"time_coverage_start", "time_coverage_end", "orbit",
                                   "time_reference"}
        for key in ("time_coverage_start", "time_coverage_end", "orbit", "time_reference",
                    "Conventions", "platform", "sensor", "cdm_data_type"):
            assert key in ours.attrs, key
        for key in ("time_coverage_start", "time_reference"):
            assert len(str(ours.attrs[key])) == len(str(real.attrs[key]))  # same ISO form
        real_desc = real["METADATA/GRANULE_DESCRIPTION"].attrs
        our_desc = ours["METADATA/GRANULE_DESCRIPTION"].attrs
        assert our_desc["ProductShortName"] == real_desc["ProductShortName"]
        assert set(ours["METADATA"].groups) >= {"QA_STATISTICS", "ALGORITHM_SETTINGS",
                                                "GRANULE_DESCRIPTION"}
        # float fill value: the one the real file uses
        real_fill = next(v.attrs["_FillValue"] for v in
                         real["METADATA/QA_STATISTICS"].variables.values()
                         if v.dtype == np.float32)
        var = "nitrogendioxide_tropospheric_column" if product == "no2" else \
            "methane_mixing_ratio_bias_corrected"
        assert ours[f"PRODUCT/{var}"].attrs["_FillValue"] == real_fill
        assert ours["PRODUCT/SUPPORT_DATA/GEOLOCATIONS/latitude_bounds"].dimensions == (
            "time", "scanline", "ground_pixel", "corner")
