"""Gridding benchmarks (issue 8): ``python -m bench.gridding [--ch4 DIR] [--reps 3]``.

**(a) Speed against shapely** on one orbit subset: the pixels in the densest ``--box`` degree
box of the blended TROPOMI+GOSAT CH4 orbits in ``--ch4`` (of a synthetic CH4 swath when no
folder is given), gridded at 0.05° and at 0.01° by
:func:`rs.atmos.grid.grid_orbit` (best of ``--reps``) and by three shapely baselines that give
the same cell means:

* the per-pixel shapely loop: for each pixel a ``Polygon``, for each cell of its bounding box
  ``polygon.intersection(cell).area`` (scalar shapely, the way such loops are written);
* per pixel, shapely 2 vectorised over that pixel's cells (one ``intersection`` call per pixel);
* shapely 2 vectorised over all (pixel, cell) pairs (``STRtree.query`` then one
  ``intersection`` call on arrays of polygons).

**(b) A full synthetic orbit**: 450 x 4,000 pixels (NO2 geometry: 3.5 x 5.5 km at nadir, a
2,600 km swath, pole to pole) written in the ESA layout by :mod:`rs.testing.s5p`, then read,
QA-filtered and gridded to 0.05° over its bounding box in a fresh process whose peak resident
memory is sampled (:func:`bench.harness.run_measured`).

Prints markdown (and writes it to ``--out`` if given) for the lead to put into RESULTS.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import shapely
from shapely.geometry import Polygon, box

from bench.harness import (
    emit_result,
    machine_facts,
    markdown_table,
    mib,
    publish,
    python_cmd,
    run_measured,
)
from rs.atmos import LonLatGrid, Swath, apply_qa, grid_orbit, read_swath
from rs.testing.s5p import S5PConfig, generate_s5p

HERE = Path(__file__).resolve().parent
ORBIT = dict(product="no2", n_ground_pixels=450, n_scanlines=4000, nadir_across_km=3.5,
             along_km=5.5, lon=0.0, lat=0.0, cloud_fraction=0.3, seed=8)


def best_of(reps: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Least CPU time of this process over ``reps`` runs (the machine may be shared: CPU time
    is what one core spends; everything timed here is single-threaded)."""
    times, out = [], None
    for _ in range(reps):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return min(times), out


# --- (a) speed -----------------------------------------------------------------------------------


def orbit_subset(folder: Path | None, box_deg: float, work: Path) -> tuple[Swath, str]:
    """The pixels inside the densest ``box_deg`` box (on a ``box_deg`` lattice) of the orbits
    in ``folder`` (the orbit with the most pixels in one box), and a description."""
    if folder is not None:
        files = sorted(folder.glob("*.nc"))
        if not files:
            raise SystemExit(f"no .nc files in {folder}")
        swaths = [(apply_qa(read_swath(f))[0], f.name) for f in files]
        what = "real blended CH4 orbit"
    else:
        path, _ = generate_s5p(work, S5PConfig(product="ch4", n_ground_pixels=215,
                                               n_scanlines=400, cloud_fraction=0.3))
        swaths = [(apply_qa(read_swath(path))[0], path.name)]
        what = "synthetic CH4 swath (no --ch4 folder given)"
    best: tuple[int, Swath, str, tuple[float, float]] | None = None
    for swath, name in swaths:
        counts, xe, ye = np.histogram2d(swath.lon, swath.lat, bins=[
            np.arange(-180, 180 + box_deg, box_deg), np.arange(-90, 90 + box_deg, box_deg)])
        i, j = np.unravel_index(counts.argmax(), counts.shape)
        if best is None or counts[i, j] > best[0]:
            best = (int(counts[i, j]), swath, name, (float(xe[i]), float(ye[j])))
    assert best is not None
    _, swath, name, (west, south) = best
    inside = ((swath.lon >= west) & (swath.lon < west + box_deg) & (swath.lat >= south)
              & (swath.lat < south + box_deg))
    box_text = f"{west:g}..{west + box_deg:g}°E, {south:g}..{south + box_deg:g}°N"
    return swath.select(inside), f"{what} {name}, its densest {box_deg:g}° box ({box_text})"


def _cells(grid: LonLatGrid, lon0: float, lat0: float, lon1: float, lat1: float) -> tuple:
    c0 = max(int(np.floor((lon0 - grid.west) / grid.res)), 0)
    c1 = min(int(np.ceil((lon1 - grid.west) / grid.res)), grid.nx)
    r0 = max(int(np.floor((grid.north - lat1) / grid.res)), 0)
    r1 = min(int(np.ceil((grid.north - lat0) / grid.res)), grid.ny)
    return c0, c1, r0, r1


def _finish(grid: LonLatGrid, total: np.ndarray,
            weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(weight > 0, total / weight, np.nan)
    return mean.reshape(grid.shape), weight.reshape(grid.shape)


def shapely_scalar_loop(s: Swath, grid: LonLatGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: a Polygon; per cell of its bbox: ``intersection(cell).area`` (scalar)."""
    n = grid.nx * grid.ny
    total, weight = np.zeros(n), np.zeros(n)
    for k in range(len(s)):
        poly = Polygon(np.column_stack([s.lon_bounds[k], s.lat_bounds[k]]))
        c0, c1, r0, r1 = _cells(grid, *poly.bounds)
        for r in range(r0, r1):
            north = grid.north - r * grid.res
            for c in range(c0, c1):
                west = grid.west + c * grid.res
                a = poly.intersection(box(west, north - grid.res, west + grid.res, north)).area
                if a > 0:
                    weight[r * grid.nx + c] += a
                    total[r * grid.nx + c] += a * s.value[k]
    return _finish(grid, total, weight)


def shapely_per_pixel(s: Swath, grid: LonLatGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: one shapely 2 ``intersection`` call over the cells of its bbox."""
    n = grid.nx * grid.ny
    total, weight = np.zeros(n), np.zeros(n)
    polys = shapely.polygons(np.stack([s.lon_bounds, s.lat_bounds], axis=-1))
    for k, poly in enumerate(polys):
        c0, c1, r0, r1 = _cells(grid, *shapely.bounds(poly))
        cols, rows = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        west = grid.west + cols.ravel() * grid.res
        north = grid.north - rows.ravel() * grid.res
        a = shapely.area(shapely.intersection(poly, shapely.box(west, north - grid.res,
                                                                  west + grid.res, north)))
        idx = (rows * grid.nx + cols).ravel()
        np.add.at(weight, idx, a)
        np.add.at(total, idx, a * s.value[k])
    return _finish(grid, total, weight)


def shapely_all_pairs(s: Swath, grid: LonLatGrid) -> tuple[np.ndarray, np.ndarray]:
    """All (pixel, cell) pairs at once: STRtree query, one vectorised ``intersection``."""
    polys = shapely.polygons(np.stack([s.lon_bounds, s.lat_bounds], axis=-1))
    cols, rows = np.meshgrid(np.arange(grid.nx), np.arange(grid.ny))
    west = grid.west + cols.ravel() * grid.res
    north = grid.north - rows.ravel() * grid.res
    cells = shapely.box(west, north - grid.res, west + grid.res, north)
    cell_i, pix_i = shapely.STRtree(polys).query(cells, predicate="intersects")
    a = shapely.area(shapely.intersection(polys[pix_i], cells[cell_i]))
    n = grid.nx * grid.ny
    return _finish(grid, np.bincount(cell_i, a * s.value[pix_i], minlength=n),
                   np.bincount(cell_i, a, minlength=n))


def run_speed(s: Swath, what: str, reps: int) -> str:
    rows, notes = [], []
    for res in (0.05, 0.01):
        grid = LonLatGrid.from_bbox((float(s.lon_bounds.min()), float(s.lat_bounds.min()),
                                     float(s.lon_bounds.max()), float(s.lat_bounds.max())), res)
        rs_s, acc = best_of(reps, lambda grid=grid: grid_orbit(s, grid))
        ours = acc.finalise().mean
        pairs = int(acc.count.sum())
        print(f"[gridding] {res}°: rs {rs_s:.3f} s; timing shapely baselines", file=sys.stderr)
        rows.append((f"{res}°", "rs `grid_orbit` (numpy, Green's theorem per edge)",
                     f"{rs_s * 1e3:,.1f} ms", f"{rs_s / len(s) * 1e6:.1f} µs", "1", "–", "–"))
        for name, fn in (("shapely loop per pixel, scalar `intersection` per cell",
                          shapely_scalar_loop),
                         ("shapely 2 per pixel, vectorised over its cells", shapely_per_pixel),
                         ("shapely 2 all pairs (STRtree + one vectorised call)",
                          shapely_all_pairs)):
            dt, (theirs, weight) = best_of(1, lambda fn=fn, grid=grid: fn(s, grid))
            both = np.isfinite(ours) & np.isfinite(theirs)
            only = np.isfinite(ours) != np.isfinite(theirs)
            diff = float(np.abs(ours[both] - theirs[both]).max())
            extra = f"{int(only.sum())} (≤ {weight[only].max() / res**2:.0e} of a cell)" \
                if only.any() else "0"
            rows.append((f"{res}°", name, f"{dt * 1e3:,.0f} ms", f"{dt / len(s) * 1e6:.0f} µs",
                         f"**{dt / rs_s:,.0f}×**", f"{diff:.1e}", extra))
        notes.append(f"{res}°: {grid.ny} x {grid.nx} cells, {pairs:,} (pixel, cell) overlaps, "
                     f"{pairs / len(s):.1f} per pixel")
    return "\n\n".join([
        "### Speed against shapely on one orbit subset",
        f"{len(s):,} pixels of the {what}. CPU time of one process (`time.process_time`; "
        f"all variants are single-threaded); rs: best of {reps}, the baselines run once. The "
        "cell means agree (max |Δ| in ppb); the last column counts cells only shapely fills: "
        "pixels touching a cell by a sliver that rs does not count (overlap ≤ 1e-9 of a cell).",
        markdown_table(["grid", "variant", "time", "per pixel", "shapely / rs",
                        "max |Δ mean|", "cells only shapely has"], rows),
        "; ".join(notes) + ".",
    ])


# --- (b) a full orbit ----------------------------------------------------------------------------


def child_orbit(path: Path, res: float) -> None:
    """In a fresh process: read, QA and grid one orbit file; report timings and memory."""
    clock = []
    t0 = (time.perf_counter(), time.process_time())
    swath = read_swath(path)
    clock.append((time.perf_counter(), time.process_time()))
    kept, report = apply_qa(swath)
    clock.append((time.perf_counter(), time.process_time()))
    grid = LonLatGrid.from_bbox((float(np.nanmin(kept.lon_bounds)),
                                 float(np.nanmin(kept.lat_bounds)),
                                 float(np.nanmax(kept.lon_bounds)),
                                 float(np.nanmax(kept.lat_bounds))), res)
    acc = grid_orbit(kept, grid)
    clock.append((time.perf_counter(), time.process_time()))
    (w0, c0), (w1, c1), (w2, c2), (w3, c3) = t0, *clock
    emit_result({
        "work_s": w3 - w0, "read_s": w1 - w0, "qa_s": w2 - w1, "grid_s": w3 - w2,
        "read_cpu": c1 - c0, "qa_cpu": c2 - c1, "grid_cpu": c3 - c2,
        "pixels": report.total, "kept": report.kept, "bad_corners": report.bad_corners,
        "overlaps": int(acc.count.sum()), "cells": grid.nx * grid.ny,
        "cells_with_data": int((acc.weight > 0).sum()), "shape": list(grid.shape),
        "accumulator_bytes": int(acc.weight.nbytes * 4),
    })


def run_orbit(work: Path, res: float) -> str:
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("S5P_OFFL_L2__NO2____*.nc"):
        old.unlink()
    t0 = time.perf_counter()
    path, _ = generate_s5p(work, S5PConfig(**ORBIT))  # type: ignore[arg-type]
    write_s = time.perf_counter() - t0
    print(f"[gridding] wrote {path.name} ({path.stat().st_size / 2**20:.0f} MiB) in "
          f"{write_s:.1f} s; gridding it in a fresh process", file=sys.stderr)
    m = run_measured(python_cmd("bench.gridding", "--child-orbit", str(path), "--res", str(res)))
    r = m.result
    rows = [
        ("pixels in the file (scanline x ground_pixel)", f"{r['pixels']:,} (4,000 x 450)"),
        ("kept by QA (qa_value > 0.75; clouds 30 %)", f"{r['kept']:,}"),
        ("dropped for unusable corners (near the poles)", f"{r['bad_corners']:,}"),
        (f"grid ({res}°, the orbit's bounding box)",
         f"{r['shape'][0]:,} x {r['shape'][1]:,} = {r['cells']:,} cells"),
        ("cells with data / (pixel, cell) overlaps",
         f"{r['cells_with_data']:,} / {r['overlaps']:,}"),
        ("read (h5netcdf, CF decoding): wall / CPU",
         f"{r['read_s']:.1f} s / {r['read_cpu']:.1f} s"),
        ("QA: wall / CPU", f"{r['qa_s']:.1f} s / {r['qa_cpu']:.1f} s"),
        ("**gridding** (`grid_orbit`): wall / CPU",
         f"**{r['grid_s']:.1f} s / {r['grid_cpu']:.1f} s**"),
        ("whole child process (start-up, imports, read, QA, grid)", f"{m.process_s:.1f} s"),
        ("**peak resident memory** (sampled, process tree)", f"**{mib(m.peak_rss)}**"),
        ("of which the accumulator (4 arrays of 8 bytes per cell)",
         mib(r["accumulator_bytes"])),
    ]
    return "\n\n".join([
        f"### A full synthetic orbit gridded to {res}°",
        f"`{path.name}`, written by `rs.testing.s5p` in {write_s:.0f} s "
        f"({path.stat().st_size / 2**20:,.0f} MiB, uncompressed).",
        markdown_table(["", ""], rows),
    ])


SECTION = "## Atmosphere: gridding TROPOMI swaths (area-weighted oversampling)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gridding",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--ch4", type=Path, help="folder of blended TROPOMI+GOSAT CH4 files")
    parser.add_argument("--box", type=float, default=6.0,
                        help="orbit subset: pixels in the densest box of this size (6°)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of rs (3)")
    parser.add_argument("--res", type=float, default=0.05, help="full-orbit grid (0.05°)")
    parser.add_argument("--work", type=Path, default=HERE / "_work" / "gridding")
    parser.add_argument("--skip-orbit", action="store_true", help="only the speed table")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md",
                        help="RESULTS.md whose gridding section is replaced")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    parser.add_argument("--child-orbit", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_orbit is not None:
        child_orbit(args.child_orbit, args.res)
        return
    command = "python -m bench.gridding " + shlex.join(sys.argv[1:] if argv is None else argv)
    facts = machine_facts()
    subset, what = orbit_subset(args.ch4, args.box, args.work)
    parts = [SECTION, f"Written by `{command}` on {facts['date']}; {facts['cpu']}, "
             f"{facts['cores']}, {facts['ram']}.", run_speed(subset, what, args.reps)]
    if not args.skip_orbit:
        parts.append(run_orbit(args.work, args.res))
    text = "\n\n".join(parts) + "\n"
    publish(text, SECTION, results=args.results, out=args.out, write=not args.no_write)


if __name__ == "__main__":
    main()
