"""Coastline benchmarks (issue 9): ``python -m bench.coast [--narrabeen DIR] [--reps 3]``.

**(a) Speed.** Shoreline positions on 10,000 transects x 500 dates of synthetic shorelines (a
500 km gently curved coast, one vertex every 10 m as a 10 m-pixel contour has, i.e. 50,000
vertices per date) with :func:`rs.coast.transects.intersect`, then the DSAS statistics of every
transect (:func:`rs.coast.stats.transect_stats`), against naive loops: a shapely
``intersection`` of every transect with every shoreline (the median chainage of the crossing
points) and CoastSat's own per-pair numpy algorithm (``SDS_transects.compute_intersection``), both
timed on a random subsample of (transect, date) pairs and scaled to all pairs; the naive
statistics are a loop over transects with ``scipy.stats.linregress``. rs is best of ``--reps``;
the naive loops run once.

**(b) Narrabeen.** On a folder laid out as CoastSat's example output (``*_shorelines.gpkg``: one
feature of shoreline vertices per image with a ``date`` column; ``*_transects.geojson``;
``*_time_series_tidally_corrected.csv``: a date column and one column per transect; optionally
``*_tides.csv``: ``dates, tide``), intersect the shorelines with the transects using CoastSat's
settings (band 25 m, chainage -100 m to 1 km, at least 3 vertices, std <= 15 m, range <= 30 m)
and compare with CoastSat's published series per transect: Pearson r, bias (rs - CoastSat),
RMSE, n. CoastSat's series are tidally corrected; rs's raw positions are compared first. Then,
if a tide file is there, rs's positions are corrected with ``rs.coast.tides.tide_shift``
(``x + (η - z_ref)/tanβ``, ``--slope``, ``--z-ref``): by interpolation when the tide series
covers the images, else by a harmonic model (tidal constituents with nodal corrections, least
squares) fitted to the tide file and predicted at the image times. The water level CoastSat's
correction implies (``z_ref + tanβ (CoastSat - rs raw)``) is shown as a check of that model,
never used for it.

Prints markdown (and writes it to ``--out`` if given) for the lead to put into RESULTS.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import stats as sps
from shapely.geometry import LineString

from bench.harness import best_of, machine_facts, markdown_table, publish
from rs.coast.stats import decimal_years, transect_stats
from rs.coast.tides import tide_levels, tide_shift
from rs.coast.transects import Transects, cast_transects, intersect, intersect_frames

#: CoastSat's example settings for compute_intersection_QC (multiple_inter 'auto' -> 'nan' here)
COASTSAT = dict(band_m=25.0, min_chainage=-100.0, max_chainage=1000.0, min_points=3,
                max_std=15.0, max_range=30.0)




# --- (a) speed -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coast:
    transects: Transects
    lines: list[shapely.LineString]
    dates: pd.DatetimeIndex


def synthetic_coast(n_transects: int, n_dates: int, seed: int = 0) -> Coast:
    """A 500 km coast ``y = A sin(x / L)`` (UTM metres), transects every ``length / n`` m from
    it, and ``n_dates`` shorelines 200 m seaward of it, moving with a trend that varies along
    the coast, a seasonal cycle and 3 m noise per vertex (vertices every 10 m in x)."""
    amp, wave, extent = 3000.0, 40_000.0, 500_000.0

    def base(x: np.ndarray) -> np.ndarray:
        return np.column_stack([x, amp * np.sin(x / wave)])

    baseline = LineString(base(np.linspace(0, extent, 5001)))
    spacing = baseline.length / n_transects
    tr = Transects.from_frame(cast_transects(baseline, spacing, 500.0, side="left",
                                             start=spacing / 2, crs="EPSG:32756"))
    xs = np.arange(0, extent, 10.0)
    tangent = np.column_stack([np.ones_like(xs), amp / wave * np.cos(xs / wave)])
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    rate = 0.5 * np.sin(xs / 70_000.0)  # m/yr
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2000-01-01", periods=n_dates, freq="16D", tz="UTC")
    lines = []
    for d in dates:
        yr = (d - dates[0]).days / 365.25
        pos = 200.0 + rate * yr + 15.0 * np.sin(2 * np.pi * yr) + rng.normal(0, 3.0, len(xs))
        lines.append(shapely.linestrings(base(xs) + pos[:, None] * normal))
    return Coast(tr, lines, dates)


def naive_shapely(line: shapely.LineString, tr: Transects, j: int) -> float:
    """Median chainage of the crossings of one shoreline with one transect (shapely)."""
    end = tr.origin[j] + tr.direction[j] * tr.length[j]
    transect = LineString([tr.origin[j], end])
    pts = shapely.get_coordinates(line.intersection(transect))
    if not len(pts):
        return float("nan")
    return float(np.median(np.hypot(*(pts - tr.origin[j]).T)))


def naive_coastsat(xy: np.ndarray, tr: Transects, j: int, band: float = 25.0) -> float:
    """CoastSat's compute_intersection for one pair (numpy over the shoreline's vertices)."""
    rel = xy - tr.origin[j]
    along = rel @ tr.direction[j]
    cross = np.abs(rel[:, 1] * tr.direction[j, 0] - rel[:, 0] * tr.direction[j, 1])
    sel = (cross <= band) & (along >= 0) & (along <= tr.length[j])
    return float(np.median(along[sel])) if sel.any() else float("nan")


def naive_stats(positions: pd.DataFrame) -> pd.DataFrame:
    """LRR (slope, SE, R²), NSM, SCE and EPR per transect in a Python loop (scipy)."""
    years = decimal_years(positions.index)
    rows = []
    for col in positions.columns:
        x = positions[col].to_numpy()
        ok = np.isfinite(x)
        fit = sps.linregress(years[ok], x[ok])
        t, v = years[ok], x[ok]
        rows.append((fit.slope, fit.stderr, fit.rvalue**2, v[-1] - v[0], np.ptp(v),
                     (v[-1] - v[0]) / (t[-1] - t[0])))
    return pd.DataFrame(rows, index=positions.columns,
                        columns=["lrr", "lrr_se", "r2", "nsm", "sce", "epr"])


def run_speed(n_transects: int, n_dates: int, reps: int, pairs: int) -> str:
    t0 = time.perf_counter()
    coast = synthetic_coast(n_transects, n_dates)
    build_s = time.perf_counter() - t0
    tr, lines = coast.transects, coast.lines
    n_vertices = int(sum(shapely.get_num_coordinates(ln) for ln in lines))
    print(f"[coast] synthetic coast built in {build_s:.1f} s ({n_vertices:,} vertices); "
          "timing rs", file=sys.stderr)
    rs_s, res = best_of(reps, lambda: intersect(lines, tr))
    positions = pd.DataFrame(res.chainage, index=coast.dates, columns=list(tr.ids))
    stats_s, table = best_of(reps, lambda: transect_stats(positions))

    rng = np.random.default_rng(1)
    sample = [(int(rng.integers(n_dates)), int(rng.integers(n_transects))) for _ in range(pairs)]
    print(f"[coast] timing naive loops on {pairs} pairs", file=sys.stderr)
    t0 = time.perf_counter()
    shp = [naive_shapely(lines[i], tr, j) for i, j in sample]
    shp_s = (time.perf_counter() - t0) / pairs * n_dates * n_transects
    # the vertices rs uses: lines segmentized to band/2 (a no-op for most 10 m steps)
    step = res.options["densify_m"]
    coords = {i: shapely.get_coordinates(shapely.segmentize(lines[i], step))
              for i in {i for i, _ in sample}}
    t0 = time.perf_counter()
    cst = [naive_coastsat(coords[i], tr, j) for i, j in sample]
    cst_s = (time.perf_counter() - t0) / pairs * n_dates * n_transects
    t0 = time.perf_counter()
    naive_table = naive_stats(positions)
    naive_stats_s = time.perf_counter() - t0

    ours = np.array([res.chainage[i, j] for i, j in sample])
    d_shp = np.nanmedian(np.abs(ours - np.array(shp)))
    d_cst = np.nanmax(np.abs(ours - np.array(cst)))
    d_lrr = np.nanmax(np.abs(table["lrr"].to_numpy() - naive_table["lrr"].to_numpy()))
    n_pairs = n_dates * n_transects
    rows = [
        ("rs `intersect` (numpy grid, vectorised)", f"{rs_s:.2f} s",
         f"{rs_s / n_pairs * 1e6:.2f} µs", "1"),
        ("naive shapely `intersection` per pair (scaled)", f"{shp_s:,.0f} s",
         f"{shp_s / n_pairs * 1e6:.0f} µs", f"**{shp_s / rs_s:,.0f}×**"),
        ("CoastSat per-pair numpy loop (scaled)", f"{cst_s:,.0f} s",
         f"{cst_s / n_pairs * 1e6:.0f} µs", f"{cst_s / rs_s:,.0f}×"),
        ("rs `transect_stats` (DSAS, all transects)", f"{stats_s:.2f} s", "", "1"),
        ("naive statistics: loop of `scipy.stats.linregress`", f"{naive_stats_s:.2f} s", "",
         f"{naive_stats_s / stats_s:,.1f}×"),
        ("**intersections + statistics**: rs vs naive shapely + scipy loop",
         f"{rs_s + stats_s:.2f} s vs {shp_s + naive_stats_s:,.0f} s", "",
         f"**{(shp_s + naive_stats_s) / (rs_s + stats_s):,.0f}×**"),
    ]
    goal = (shp_s + naive_stats_s) / (rs_s + stats_s)
    return "\n\n".join([
        f"### Intersections and statistics: {n_transects:,} transects × {n_dates} dates",
        f"Synthetic 500 km coast, {n_vertices:,} shoreline vertices in all "
        f"({n_vertices // n_dates:,} per date, one every 10 m). rs: best of {reps}. Naive loops "
        f"timed once on {pairs:,} random (transect, date) pairs and scaled to all "
        f"{n_pairs:,} pairs (per-pair cost is independent of the pair: every shoreline has the "
        "same number of vertices). Goal ≥ 20×: "
        f"{'met' if goal >= 20 else 'NOT met'} ({goal:,.0f}×).",
        markdown_table(["variant", "time", "per (transect × date)", "naive / rs"], rows),
        f"Agreement on the sampled pairs: rs vs CoastSat's per-pair algorithm max |Δ| = "
        f"{d_cst:.1e} m (the same estimator on the same vertices); rs (median of vertices "
        "within ±25 m) vs shapely "
        f"(median of exact crossings) median |Δ| = {d_shp:.2f} m (3 m vertex noise). rs LRR vs "
        f"`linregress` max |Δ| = {d_lrr:.1e} m/yr. {np.isfinite(res.chainage).mean():.1%} of "
        "the pairs have a position.",
    ])


# --- (b) Narrabeen -------------------------------------------------------------------------------

#: constituent -> speed (°/hour)
SPEEDS = {
    "M2": 28.9841042, "S2": 30.0, "N2": 28.4397295, "K2": 30.0821373, "K1": 15.0410686,
    "O1": 13.9430356, "P1": 14.9589314, "Q1": 13.3986609, "2N2": 27.8953548, "MU2": 27.9682084,
    "NU2": 28.5125831, "L2": 29.5284789, "T2": 29.9589333, "J1": 15.5854433, "OO1": 16.1391017,
    "2Q1": 12.8542862, "RHO1": 13.4715145, "S1": 15.0, "M3": 43.4761563, "MK3": 44.0251729,
    "M4": 57.9682084, "MS4": 58.9841042, "MN4": 57.4238337, "S4": 60.0, "SN4": 58.4397295,
    "M6": 86.9523127, "M8": 115.9364166, "Mf": 1.0980331, "Mm": 0.5443747, "MSf": 1.0158958,
    "Ssa": 0.0821373, "Sa": 0.0410686,
}
_M2_LIKE = ("M2", "N2", "2N2", "MU2", "NU2", "MS4")
_O1_LIKE = ("O1", "Q1", "2Q1", "RHO1")


def _nodal(name: str, node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodal factor f and phase u (rad) of a constituent at lunar node longitude ``node``
    (Schureman's approximations for the major ones; compound tides from their parts)."""
    c, s = np.cos, np.sin
    n = node
    if name in _M2_LIKE:
        return 1.0004 - 0.0373 * c(n) + 0.0002 * c(2 * n), np.radians(-2.14 * s(n))
    if name == "K1":
        f = 1.006 + 0.115 * c(n) - 0.0088 * c(2 * n) + 0.0006 * c(3 * n)
        return f, np.radians(-8.86 * s(n) + 0.68 * s(2 * n) - 0.07 * s(3 * n))
    if name in _O1_LIKE:
        f = 1.0089 + 0.1871 * c(n) - 0.0147 * c(2 * n) + 0.0014 * c(3 * n)
        return f, np.radians(10.80 * s(n) - 1.34 * s(2 * n) + 0.19 * s(3 * n))
    if name == "K2":
        f = 1.0241 + 0.2863 * c(n) + 0.0083 * c(2 * n) - 0.0015 * c(3 * n)
        return f, np.radians(-17.74 * s(n) + 0.68 * s(2 * n) - 0.04 * s(3 * n))
    if name == "Mf":
        return 1.043 + 0.414 * c(n), np.radians(-23.74 * s(n) + 2.68 * s(2 * n) - 0.38 * s(3 * n))
    if name == "Mm":
        return 1.0 - 0.130 * c(n), 0.0 * n
    if name in ("M4", "MN4", "M6", "M8", "M3"):
        k = {"M4": 2, "MN4": 2, "M6": 3, "M8": 4, "M3": 1.5}[name]
        f, u = _nodal("M2", n)
        return f**k, k * u
    if name == "MK3":
        (f1, u1), (f2, u2) = _nodal("M2", n), _nodal("K1", n)
        return f1 * f2, u1 + u2
    return np.ones_like(n), np.zeros_like(n)


def _tide_design(times: pd.DatetimeIndex) -> np.ndarray:
    hours = (times - pd.Timestamp("2000-01-01", tz="UTC")).total_seconds().to_numpy() / 3600
    centuries = (hours / 24 - 0.5) / 36525  # since J2000.0
    node = np.radians(125.04452 - 1934.136261 * centuries)
    cols = [np.ones_like(hours)]
    for name, speed in SPEEDS.items():
        f, u = _nodal(name, node)
        arg = np.radians(speed * hours) + u
        cols += [f * np.cos(arg), f * np.sin(arg)]
    return np.column_stack(cols)


def harmonic_tide(times: pd.DatetimeIndex, levels: np.ndarray) -> tuple[Any, float]:
    """A least-squares harmonic model of a tide series: ``(predict(times), fit RMSE m)``."""
    ok = np.isfinite(levels)
    a = _tide_design(times[ok])
    coef, *_ = np.linalg.lstsq(a, levels[ok], rcond=None)
    rmse = float(np.sqrt(np.mean((a @ coef - levels[ok]) ** 2)))
    return (lambda t: _tide_design(t) @ coef), rmse


def _utc(values: Any) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True, format="ISO8601"))


def _one(folder: Path, pattern: str, required: bool = True) -> Path | None:
    found = sorted(folder.glob(pattern))
    if len(found) > 1 or (required and not found):
        raise SystemExit(f"{folder}: expected one {pattern}, found {len(found)}")
    return found[0] if found else None


def _compare(ours: np.ndarray, theirs: np.ndarray) -> tuple[int, float, float, float]:
    ok = np.isfinite(ours) & np.isfinite(theirs)
    d = ours[ok] - theirs[ok]
    r = float(np.corrcoef(ours[ok], theirs[ok])[0, 1]) if ok.sum() > 2 else float("nan")
    return int(ok.sum()), r, float(d.mean()), float(np.sqrt(np.mean(d**2)))


def run_narrabeen(folder: Path, reps: int, slope: float, z_ref: float) -> str:
    shore_path = _one(folder, "*_shorelines.gpkg")
    shorelines = gpd.read_file(shore_path)
    transects = gpd.read_file(_one(folder, "*_transects.geojson"))
    published = pd.read_csv(_one(folder, "*_time_series_tidally_corrected.csv"))
    id_col = "id" if "id" in transects.columns else "name"
    date_col = "dates" if "dates" in published.columns else published.columns[0]
    ids = [str(i) for i in transects[id_col]]
    best, res = best_of(reps, lambda: intersect_frames(shorelines, transects, id_column=id_col,
                                                       **COASTSAT))
    times = _utc(shorelines["date"])
    raw = res.chainage
    theirs = published[ids].to_numpy(dtype=float)
    same_dates = bool((_utc(published[date_col]) == times).all())
    if not same_dates:
        raise SystemExit("the published series' dates differ from the shorelines' dates")
    nan_match = int((np.isfinite(raw) == np.isfinite(theirs)).sum())

    # the tide: interpolated if the file covers the images, else a harmonic model of it
    tide_path = _one(folder, "*_tides.csv", required=False)
    eta = None
    tide_note = "no tide file: raw positions only."
    if tide_path is not None:
        tide = pd.read_csv(tide_path)
        t_times, t_lv = _utc(tide.iloc[:, 0]), tide.iloc[:, 1].to_numpy(dtype=float)
        covered = t_times.min() <= times.min() and times.max() <= t_times.max()
        if covered:
            eta = tide_levels(t_times, t_lv, times).levels
            tide_note = f"water levels interpolated from {tide_path.name}."
        else:
            predict, fit_rmse = harmonic_tide(t_times, t_lv)
            eta = predict(times)
            tide_note = (
                f"{tide_path.name} covers {t_times.min():%Y-%m-%d} to {t_times.max():%Y-%m-%d} "
                f"only, not the images ({times.min():%Y} to {times.max():%Y}): levels predicted "
                f"by a harmonic model fitted to it ({len(SPEEDS)} constituents with nodal "
                f"corrections, least squares; fit RMSE {fit_rmse * 100:.1f} cm)."
            )
    corrected = raw + tide_shift(eta, np.full(len(ids), slope), z_ref) if eta is not None else None

    rows = []
    for j, name in enumerate(ids):
        n, r, bias, rmse = _compare(raw[:, j], theirs[:, j])
        row: list[object] = [name, n, f"{r:.4f}", f"{bias:+.2f}", f"{rmse:.2f}"]
        if corrected is not None:
            _, rc, bc, ec = _compare(corrected[:, j], theirs[:, j])
            row += [f"**{rc:.4f}**", f"{bc:+.2f}", f"{ec:.2f}"]
        rows.append(row)
    header = ["transect", "n", "r raw", "bias raw (m)", "RMSE raw (m)"]
    if corrected is not None:
        header += ["r tide-corrected", "bias (m)", "RMSE (m)"]

    # the check: CoastSat - rs raw is one number per date (its tide shift) ...
    diff = theirs - raw
    with warnings.catch_warnings():  # dates without any position: all-NaN rows
        warnings.simplefilter("ignore", RuntimeWarning)
        across = np.nanstd(diff, axis=1)
        per_date = np.nanmedian(diff, axis=1)
    settings = ", ".join(f"{k}={v:g}" for k, v in COASTSAT.items())
    notes = [
        f"rs `intersect_frames` with CoastSat's settings ({settings}) on {len(shorelines)} "
        f"shorelines × {len(ids)} transects: {best * 1e3:.0f} ms (best of "
        f"{reps}). NaN pattern identical to CoastSat's in {nan_match} of {raw.size} cells.",
        f"CoastSat − rs raw is one number per date: its standard deviation across the "
        f"{len(ids)} transects is at most {np.nanmax(across):.1e} m; so rs reproduces CoastSat's "
        "raw intersections exactly and the whole difference is CoastSat's tide correction.",
        f"Tide: {tide_note}",
    ]
    lrr_rows = []
    if eta is not None and corrected is not None:
        implied = z_ref + slope * per_date
        ok = np.isfinite(implied) & np.isfinite(eta)
        fit = np.polyfit(eta[ok], per_date[ok], 1)
        err = eta[ok] - implied[ok]
        notes.append(
            f"Check of the tide model (not used by it): the level CoastSat's correction implies "
            f"(z_ref + tanβ·(CoastSat − rs raw), tanβ = {slope:g}, z_ref = {z_ref:g} m) vs the "
            f"predicted level: r = {np.corrcoef(eta[ok], implied[ok])[0, 1]:.4f}, RMSE "
            f"{np.sqrt(np.mean(err**2)) * 100:.1f} cm, bias {err.mean() * 100:+.1f} cm; "
            f"regressing CoastSat − rs raw on the predicted level gives 1/tanβ = {fit[0]:.2f} "
            f"and z_ref = {-fit[1] / fit[0]:+.3f} m, i.e. CoastSat's published series uses "
            "tanβ = 0.1 and z_ref = 0 (not the 0.7 m of its example script)."
        )
        ours = transect_stats(pd.DataFrame(corrected, index=times, columns=ids))
        pub = transect_stats(pd.DataFrame(theirs, index=times, columns=ids))
        for name in ids:
            a, b = ours.loc[name], pub.loc[name]
            lrr_rows.append([name, f"{a.lrr:+.3f} ± {a.lrr_ci:.3f}", f"{b.lrr:+.3f}",
                             f"{a.nsm:+.1f}", f"{b.nsm:+.1f}", f"{a.epr:+.3f}", f"{a.lrr_r2:.3f}"])
    parts = [
        f"### Narrabeen: rs vs CoastSat's published series ({folder.name})",
        markdown_table(header, rows),
        "\n".join(f"- {n}" for n in notes),
    ]
    if lrr_rows:
        parts += [
            "DSAS statistics per transect (`rs.coast.stats.transect_stats`) of rs's "
            "tide-corrected positions and of CoastSat's series:",
            markdown_table(["transect", "LRR rs (m/yr, 95% CI)", "LRR CoastSat", "NSM rs (m)",
                            "NSM CoastSat", "EPR rs (m/yr)", "R² rs"], lrr_rows),
        ]
    return "\n\n".join(parts)


SECTION = "## Coastline: transect intersections and Narrabeen"


# --- command -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.coast",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--narrabeen", type=Path, help="a CoastSat output folder (part b)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of rs's timings")
    parser.add_argument("--transects", type=int, default=10_000)
    parser.add_argument("--dates", type=int, default=500)
    parser.add_argument("--naive-pairs", type=int, default=2000,
                        help="(transect, date) pairs the naive loops are timed on")
    parser.add_argument("--skip-speed", action="store_true", help="only part (b)")
    parser.add_argument("--slope", type=float, default=0.1, help="beach slope tanβ (b)")
    parser.add_argument("--z-ref", type=float, default=0.0, help="reference level, m (b)")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "RESULTS.md",
                        help="RESULTS.md whose coastline section is replaced")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args(argv)
    cmd = "python -m bench.coast " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    facts = machine_facts()
    parts = [
        SECTION,
        f"Written by `{cmd}` on {facts['date']}; {facts['cpu']}, {facts['cores']}, "
        f"{facts['ram']}.",
    ]
    if not args.skip_speed:
        parts.append(run_speed(args.transects, args.dates, args.reps, args.naive_pairs))
    if args.narrabeen is not None:
        parts.append(run_narrabeen(args.narrabeen, args.reps, args.slope, args.z_ref))
    text = "\n\n".join(parts) + "\n"
    publish(text, SECTION, results=args.results, out=args.out, write=not args.no_write)
    return text


if __name__ == "__main__":
    main()
