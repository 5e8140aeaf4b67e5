"""RSEI peak memory as the raster grows: ``python -m bench rsei [--size 2048 --reps 2]``.

Writes a synthetic 7-band growing-season composite COG (blue..swir22, thermal in K; smooth
random landscapes with water) of ``size``² and of ``(2·size)``² pixels (4× the area), then runs
the RSEI product's three passes over it block by block (``rs.products.rsei``: sample + ranges,
PC1 range, index + classes, the functions its Dask tasks call, in one process with 512-pixel
blocks) in a fresh process per run, measuring the peak resident memory of that process.
Goal (issue 6): the peak stays within 20 % when the raster grows 4×. The section
``## RSEI: peak memory vs raster size`` of bench/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

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
SECTION = "## RSEI: peak memory vs raster size"
BLOCK = 512


def write_composite(path: Path, size: int, seed: int = 0) -> None:
    """A 7-band float32 COG: vegetation fraction and water from smooth noise."""
    import rasterio
    from affine import Affine
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    profile = {"driver": "COG", "width": size, "height": size, "count": 7, "dtype": "float32",
               "crs": "EPSG:32650", "transform": Affine(30, 0, 600000, 0, -30, 3500000),
               "compress": "DEFLATE", "blocksize": 512, "nodata": float("nan")}
    names = ("blue", "green", "red", "nir", "swir16", "swir22", "thermal")
    tmp = path.with_suffix(".tmp.tif")
    out = np.empty((7, size, size), dtype=np.float32)
    for r in range(0, size, 2048):  # build in strips to keep the writer's memory small
        h = min(2048, size - r)
        veg = np.clip(gaussian_filter(rng.random((h, size)), 20) * 4 - 1.5, 0, 1)
        water = gaussian_filter(rng.random((h, size)), 30) > 0.56
        for b, (soil, plant, wet) in enumerate(((0.10, 0.03, 0.06), (0.13, 0.07, 0.08),
                                                (0.17, 0.04, 0.05), (0.23, 0.40, 0.03),
                                                (0.30, 0.18, 0.02), (0.26, 0.09, 0.01),
                                                (312.0, 298.0, 292.0))):
            v = soil + (plant - soil) * veg
            out[b, r:r + h] = np.where(water, wet, v) + rng.normal(0, 0.003, (h, size))
    with rasterio.open(tmp, "w", **profile) as ds:
        ds.write(out)
        for i, n in enumerate(names, start=1):
            ds.set_band_description(i, n)
    tmp.replace(path)


def child(path: Path) -> None:
    """The product's three passes over ``path``, block by block, in this process."""
    import dataclasses

    from rs.ecology.rsei import fit as fit_model
    from rs.ecology.rsei import merge_summaries
    from rs.load.outputs import band_names, raster_info
    from rs.products.rsei import BANDS, _block, _pc1_range, _summary

    names = band_names(path)
    index = {b: names.index(b) + 1 for b in BANDS}
    grid, _ = raster_info(path)
    h, w = grid.shape
    wins = [(r, c, min(BLOCK, h - r), min(BLOCK, w - c))
            for r in range(0, h, BLOCK) for c in range(0, w, BLOCK)]
    t0 = time.perf_counter()
    fraction = min(1.0, 100_000 / (h * w))
    model = fit_model(merge_summaries(
        [_summary(str(path), index, win, "landsat-c2-l2", 0.0, fraction, 0) for win in wins]))
    ranges = [_pc1_range(str(path), index, win, "landsat-c2-l2", 0.0, model) for win in wins]
    model = dataclasses.replace(model, pc1_min=min(r[0] for r in ranges),
                                pc1_max=max(r[1] for r in ranges))
    valid = 0
    for win in wins:
        valid += int(np.isfinite(_block(str(path), index, win, "landsat-c2-l2", 0.0,
                                        model).data[0]).sum())
    emit_result({"work_s": time.perf_counter() - t0, "pixels": h * w, "valid": valid})


def main(argv: list[str] | None = None, prog: str = "python -m bench rsei") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="side of the small raster")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--work", type=Path, default=HERE / "_work")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    peaks = []
    for side in (args.size, 2 * args.size):
        path = args.work / f"rsei_composite_{side}.tif"
        if not path.exists():
            print(f"[bench] writing a {side}² composite ...", file=sys.stderr, flush=True)
            write_composite(path, side)
        runs = [run_measured([sys.executable, "-m", "bench.rsei", "--child", str(path)])
                for _ in range(args.reps)]
        s = summarise(runs)
        peaks.append(s.peak_rss)
        rows.append((f"{side} × {side}", f"{side * side / 1e6:.1f} M",
                     f"{s.best.work_s:.1f} s", f"{s.peak_rss / 2**20:.0f} MiB"))
    ratio = peaks[1] / peaks[0]
    facts = machine_facts()
    cmd = " ".join([prog, *(argv or [])])
    text = "\n\n".join([
        SECTION,
        f"Written by `{cmd}` on {facts['date']}; {facts['cpu']}, {facts['cores']}, "
        f"{facts['ram']}. Peak RSS of a fresh process running the three passes ({BLOCK}-pixel "
        f"blocks), the largest of {args.reps} runs.",
        markdown_table(["raster", "pixels", "time (best)", "peak RSS"], rows),
        f"Peak memory ratio 4× area / 1×: **{ratio:.2f}** (goal ≤ 1.20: "
        f"{'met' if ratio <= 1.2 else 'NOT met'}).",
    ])
    publish(text, SECTION, results=args.results, out=None, write=not args.no_write)


if __name__ == "__main__":
    from bench.rsei import main as _main

    _main(sys.argv[1:], prog="python -m bench.rsei")
