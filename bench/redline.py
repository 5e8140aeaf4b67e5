"""Red-line change throughput and memory: ``python -m bench redline [--size 20000 --reps 1]``.

Issue 7: "Throughput (km² per second) and peak memory for a 20,000 × 20,000 px AOI against a
bare NDVI-difference threshold on the same data, as a ratio in one run: goal ≤ 3× the bare
threshold's time, and memory that stays flat when the AOI grows 4×."

Writes (once, cached in ``--workdir``) a synthetic before/after pair of 6-band float32 COGs
(blue..swir22 as band descriptions, NaN nodata, 512-px tiles, DEFLATE: written by rs's own
:class:`rs.export.cog.CogWriter`, like the upstream composites the product reads) of
``size``² pixels at 10 m in EPSG:32650 (smooth random landscapes with water, a slight
radiometric difference between the dates, and planted change patches of 30–200 px in the
after image, 3 per million pixels), built in strips so the writer's memory stays small; and
the same at ``(size/2)``².

Then, in a fresh process per run, measures wall time and peak RSS of

- **rs**: the chain of ``rs.products.redline`` as its build runs it: ``fit_change`` on the lazy
  readers (``rs.load.outputs.band_readers``), every block through ``rs.products.redline._block``
  (features, IR-MAD chi-square, clean-up with the halo), ``class_polygons`` of change and
  no-data per block, ``patches_from_pieces``;
- **bare**: an NDVI-difference threshold on the same files: per block read red and nir of both
  dates, ΔNDVI, ``|ΔNDVI| > 0.2``, count the pixels (no fit, morphology or polygons);

both sequentially in one process: rs over the product's task windows
(``rs.products.redline.task_windows``: 8192 x 4096 segments, each read in strips through one
open dataset per file), bare over tile-aligned 1024-px blocks (``--block``: no halo, so each
tile is decoded once, its best case); ``GDAL_CACHEMAX`` set for both (``--gdal-cache-mb``). The
section ``## Red-line change: throughput and memory`` of
bench/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import (
    emit_result,
    machine_facts,
    markdown_table,
    publish,
    run_measured,
    summarise,
)

HERE = Path(__file__).resolve().parent
SECTION = "## Red-line change: throughput and memory"
BLOCK = 1024  # Runtime.block_shape(2, itemsize=8) without a spec block_size: the product's block
PIXEL_M = 10.0
STRIP = 512
PATCHES_PER_MPX = 3.0
BARE_THRESHOLD = 0.2
NAMES = ("blue", "green", "red", "nir", "swir16", "swir22")
# per band: bare soil, vegetation, water, planted change (built-up / bare ground)
SPECTRA = ((0.10, 0.03, 0.06, 0.20), (0.13, 0.07, 0.08, 0.22), (0.17, 0.04, 0.05, 0.25),
           (0.23, 0.40, 0.03, 0.27), (0.30, 0.18, 0.02, 0.33), (0.26, 0.09, 0.01, 0.31))


def _paths(work: Path, size: int) -> tuple[Path, Path]:
    return work / f"redline_before_{size}.tif", work / f"redline_after_{size}.tif"


def _patches(size: int, rng: np.random.Generator) -> np.ndarray:
    """Rows (row, col, height, width) of rectangles of 30–200 px anywhere in the grid."""
    n = max(1, round(PATCHES_PER_MPX * size * size / 1e6))
    area = rng.integers(30, 201, n)
    h = np.clip(np.round(np.sqrt(area) * rng.uniform(0.6, 1.6, n)), 3, None).astype(int)
    w = np.clip(np.round(area / h), 3, None).astype(int)
    r = rng.integers(0, size - h, n)
    c = rng.integers(0, size - w, n)
    return np.stack([r, c, h, w], axis=1)


def write_pair(before: Path, after: Path, size: int, seed: int = 7) -> int:
    """The before/after composites of ``size``², written strip by strip; returns the number
    of planted patches."""
    from affine import Affine
    from scipy.ndimage import gaussian_filter

    from rs.export.cog import CogWriter
    from rs.export.raster import GridSpec, RasterBand

    rng = np.random.default_rng(seed)
    grid = GridSpec(crs="EPSG:32650", shape=(size, size),
                    transform=Affine(PIXEL_M, 0, 600000, 0, -PIXEL_M, 3500000))
    bands = [RasterBand(n) for n in NAMES]
    patches = _patches(size, rng)
    with CogWriter(before, grid, bands) as wb, CogWriter(after, grid, bands) as wa:
        for r in range(0, size, STRIP):
            h = min(STRIP, size - r)
            veg = np.clip(gaussian_filter(rng.random((h, size), np.float32), 20) * 4 - 1.5, 0, 1)
            water = gaussian_filter(rng.random((h, size), np.float32), 30) > 0.56
            planted = np.zeros((h, size), bool)
            for pr, pc, ph, pw in patches:
                if pr < r + h and pr + ph > r:
                    planted[max(0, pr - r):min(h, pr + ph - r), pc:pc + pw] = True
            out_b = np.empty((6, h, size), np.float32)
            out_a = np.empty((6, h, size), np.float32)
            for b, (soil, plant, wet, built) in enumerate(SPECTRA):
                v = np.where(water, np.float32(wet), soil + np.float32(plant - soil) * veg)
                out_b[b] = v + 0.003 * rng.standard_normal((h, size), np.float32)
                a = np.where(planted, np.float32(built), v * np.float32(1.03) + np.float32(0.002))
                out_a[b] = a + 0.003 * rng.standard_normal((h, size), np.float32)
            wb.write_block(r, 0, out_b)
            wa.write_block(r, 0, out_a)
            print(f"\r[bench] {size}²: strip {r // STRIP + 1}/{-(-size // STRIP)}", end="",
                  file=sys.stderr, flush=True)
        print(f"\n[bench] {size}²: converting to COG ...", file=sys.stderr, flush=True)
    return len(patches)


def _windows(size: int, block: int) -> list[tuple[int, int, int, int]]:
    from rs.products._pairs import windows

    return windows((size, size), (block, block))


def child_rs(before: Path, after: Path, block: int) -> None:
    """rs's chain, as rs.products.redline.build runs it, task window by task window in this
    process (``block`` unused: the product's own windows)."""
    from affine import Affine

    from rs.change import class_polygons
    from rs.change.detect import BANDS, DetectConfig, fit_change, patches_from_pieces
    from rs.load.outputs import band_readers, raster_info
    from rs.products.redline import _NODATA, _block, task_windows

    grid, _ = raster_info(before)
    config = DetectConfig()  # the spec's defaults: irmad, alpha 0.01, radii 1, mmu 2000 m²
    t0 = time.perf_counter()
    model = fit_change(band_readers(before, BANDS), band_readers(after, BANDS), config)
    t_fit = time.perf_counter() - t0
    t_block = t_poly = 0.0
    change_pieces: list[Any] = []
    hole_pieces: list[Any] = []
    changed = valid = 0
    t = grid.transform
    for win in task_windows(grid.shape, None):
        t1 = time.perf_counter()
        blk = _block(str(before), str(after), win, model)
        t2 = time.perf_counter()
        cls = blk.data[0]
        changed += int((cls == 1).sum())
        valid += int((cls != _NODATA).sum())
        polys = class_polygons(cls, t @ Affine.translation(win[1], win[0]), [1, _NODATA])
        change_pieces.extend(polys[1])
        hole_pieces.extend(polys[_NODATA])
        t_block += t2 - t1
        t_poly += time.perf_counter() - t2
    t3 = time.perf_counter()
    patches = patches_from_pieces(change_pieces, grid.crs, config.mmu_m2)
    t_end = time.perf_counter()
    emit_result({"work_s": t_end - t0, "fit_s": t_fit, "blocks_s": t_block, "polygons_s": t_poly,
                 "merge_s": t_end - t3, "changed_px": changed, "valid_px": valid,
                 "pieces": len(change_pieces), "patches": len(patches),
                 "threshold": float(model.threshold), "load_avg": os.getloadavg()})


def child_bare(before: Path, after: Path, block: int) -> None:
    """A bare NDVI-difference threshold over the same blocks: read red and nir of both dates,
    ΔNDVI, |ΔNDVI| > 0.2, count."""
    import rasterio
    from rasterio.windows import Window

    from rs.load.outputs import band_names

    names = band_names(before)
    idx = [names.index("red") + 1, names.index("nir") + 1]
    t0 = time.perf_counter()
    changed = valid = 0
    with rasterio.open(before) as db, rasterio.open(after) as da:
        for r, c, h, w in _windows(db.height, block):
            win = Window(c, r, w, h)
            rb, nb = db.read(idx, window=win)
            ra, na = da.read(idx, window=win)
            with np.errstate(invalid="ignore", divide="ignore"):
                d = (na - ra) / (na + ra) - (nb - rb) / (nb + rb)
                changed += int((np.abs(d) > BARE_THRESHOLD).sum())
            valid += int(np.isfinite(d).sum())
    emit_result({"work_s": time.perf_counter() - t0, "changed_px": changed, "valid_px": valid,
                 "load_avg": os.getloadavg()})


def _measure(kind: str, before: Path, after: Path, block: int, reps: int,
             cache_mb: int) -> Any:
    cmd = [sys.executable, "-m", "bench.redline", "--child", kind, str(before), str(after),
           "--block", str(block)]
    runs = []
    for i in range(reps):
        m = run_measured(cmd, env={"GDAL_CACHEMAX": str(cache_mb)}, timeout=4 * 3600.0)
        print(f"[bench] {kind} {before.name}: run {i + 1}/{reps}: {m.work_s:.1f} s, "
              f"peak {m.peak_rss / 2**20:.0f} MiB, {json.dumps(m.result)}",
              file=sys.stderr, flush=True)
        runs.append(m)
    return summarise(runs)


def main(argv: list[str] | None = None, prog: str = "python -m bench redline") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000, help="side of the AOI in pixels")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--block", type=int, default=BLOCK, help="block side of the bare chain")
    parser.add_argument("--gdal-cache-mb", type=int, default=512,
                        help="GDAL_CACHEMAX of both chains (MB)")
    parser.add_argument("--workdir", type=Path, default=HERE / "_work")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--note", default="", help="a sentence added to the section")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "BEFORE", "AFTER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, b, a = args.child
        return (child_rs if kind == "rs" else child_bare)(Path(b), Path(a), args.block)
    args.workdir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    sides = (args.size, args.size // 2)
    files: dict[int, tuple[Path, Path]] = {}
    for side in sides:
        pb, pa = _paths(args.workdir, side)
        if not (pb.exists() and pa.exists()):
            print(f"[bench] writing a {side}² before/after pair ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            write_pair(pb, pa, side)
            print(f"[bench] wrote in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        files[side] = (pb, pa)
    res = {(side, kind): _measure(kind, *files[side], args.block, args.reps, args.gdal_cache_mb)
           for side in sides for kind in ("rs", "bare")}
    size = args.size
    km2 = size * size * PIXEL_M**2 / 1e6
    rs_s, bare_s = res[size, "rs"].best_s, res[size, "bare"].best_s
    ratio = rs_s / bare_s
    r = res[size, "rs"].best.result
    rows = []
    for side in sides:
        a = side * side * PIXEL_M**2 / 1e6
        for kind, label in (("rs", "rs redline chain"), ("bare", "bare \\|ΔNDVI\\| > 0.2")):
            s = res[side, kind]
            rows.append((f"{side:,} × {side:,}", f"{a:,.0f}", label, f"{s.best_s:,.1f}",
                         f"{a / s.best_s:,.1f}", f"{s.peak_rss / 2**20:,.0f} MiB",
                         f"{s.best.result['changed_px']:,}"))
    mem = {k: res[size, k].peak_rss / res[size // 2, k].peak_rss for k in ("rs", "bare")}
    facts = machine_facts()
    cmd = " ".join([prog, *(sys.argv[1:] if argv is None else argv)])
    from rs.products.redline import task_windows

    blocks = len(_windows(size, args.block))
    segments = len(task_windows((size, size), None))
    stages = (f"rs stages at {size:,}²: fit {r['fit_s']:.1f} s, blocks (redline._block) "
              f"{r['blocks_s']:.1f} s, class_polygons {r['polygons_s']:.1f} s, "
              f"patches_from_pieces {r['merge_s']:.1f} s; {r['pieces']:,} pieces → "
              f"{r['patches']:,} patches ≥ MMU; IR-MAD threshold {r['threshold']:.2f}.")
    loads = ", ".join(f"{k} {side:,}²: {res[side, k].best.result['load_avg'][1]:.1f}"
                      for side in sides for k in ("rs", "bare"))
    text = "\n\n".join(filter(None, [
        SECTION,
        f"Written by `{cmd}` on {facts['date']} (whole run "
        f"{(time.perf_counter() - t_start) / 60:.0f} min); {facts['cpu']}, {facts['cores']}, "
        f"{facts['ram']}; {facts['python']}; {facts['libraries']}.",
        f"Synthetic before/after 6-band float32 COGs (rs's CogWriter: 512-px tiles, DEFLATE, "
        f"NaN nodata; 10 m, EPSG:32650) with {PATCHES_PER_MPX:g} planted change patches of "
        f"30–200 px per million pixels. Both chains run sequentially in one fresh process "
        f"(GDAL_CACHEMAX {args.gdal_cache_mb} MB); time is the work alone (best of "
        f"{args.reps}), peak RSS the largest of the process. "
        "**rs**: `fit_change` on the lazy readers (a lattice of 128-px windows on a grid this "
        "large), then `rs.products.redline._block` per task window, as the product cuts the "
        f"grid ({segments:,} segments of up to 8192 × 4096 px at {size:,}², each read in "
        "strips of 512 rows with the halo through one open dataset per file; IR-MAD χ² in "
        "float32, clean-up), `class_polygons` per window, `patches_from_pieces`. **bare**: "
        f"read red + nir of both dates per tile-aligned {args.block}-px block ({blocks:,}; no "
        f"halo, each tile decoded once), ΔNDVI, |ΔNDVI| > {BARE_THRESHOLD}, count.",
        args.note,
        markdown_table(["AOI (px)", "km²", "chain", "time (s)", "km²/s", "peak RSS",
                        "changed px"], rows),
        stages,
        f"Machine load (5-min load average at the end of each run, {os.cpu_count()} cores): "
        f"{loads}.",
        f"Time ratio rs / bare at {size:,}² ({km2:,.0f} km²): **{ratio:.2f}** (goal ≤ 3: "
        f"{'met' if ratio <= 3 else 'NOT met'}).",
        f"Peak memory ratio {size:,}² / {size // 2:,}² (4× the area): rs **{mem['rs']:.2f}** "
        f"(goal ≤ 1.20: {'met' if mem['rs'] <= 1.2 else 'NOT met'}); bare {mem['bare']:.2f}.",
    ]))
    publish(text, SECTION, results=args.results, out=None, write=not args.no_write)


if __name__ == "__main__":
    from bench.redline import main as _main

    _main(sys.argv[1:], prog="python -m bench.redline")
