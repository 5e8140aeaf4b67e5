"""Zonal statistics benchmark (issue 6): ``python -m bench.zonal [--size 20000] [--polygons 5000]``.

A float32 COG of ``size × size`` pixels (10 m, UTM; a smooth field plus noise, 1 % NaN,
written block by block with rs's ``CogWriter``: 512-pixel tiles, deflate, overviews) and
``polygons`` polygons in two layouts (``--layout``, default both): **tiling**, Voronoi cells of
random points tiling the raster's extent grown by 2 % (counties: every pixel in one polygon,
the outer cells partly outside), and **scattered**, star-shaped polygons of radius 5-50 pixels
at random places (reserves, red-line patches). Statistics: count, mean, median, std, min, max
and the 10th/25th/75th/90th percentiles.

Variants, each in a fresh process (``bench.harness.run_measured``), ``--repeats`` times (the
fastest counts):

- **rs on the COG, Dask**: :func:`rs.ecology.zonal.zonal_stats` on the file path with
  ``parallel=Runtime(client).part_map(...)``, as the products run it: the Hilbert-ordered
  batches run as tasks on a local cluster of
  ``--workers`` worker processes (one thread each; default: the usable cores), started
  before the timed call (like the interpreter, not timed; its workers warmed by one call each);
- **rs on the COG, one process**: the same without a client (exactextract reading windows
  through rasterio/GDAL, feature-sequential, polygons in Hilbert order);
- **rs on the in-memory array**: the same on the whole raster read into numpy first;
- **bare exactextract, in memory**: ``exact_extract`` with a ``NumPyRasterSource`` over the
  whole array (no rs), the same operations (its own ``median``/``quantile``), polygons in
  input order;
- **bare exactextract, in memory, ``count`` only**: its coverage pass alone, the floor of any
  run built on exactextract; with the time to decode the COG into the array it bounds what
  rs on the COG can reach on one core;
- **rasterstats** (``zonal_stats`` on the COG, its default centre-of-pixel rule) on a random
  subset of ``--rasterstats-polygons`` polygons, its time scaled by ``polygons / subset``;
- **rs on a COG of half the side** (a quarter of the pixels, as many polygons): the memory
  check (what rs adds should not grow with the raster).

The COG file is read once before the variants run, so all of them find it in the OS page
cache (the first one would otherwise pay the disk). Times are the work alone as each child
measures it (``time.perf_counter`` around the call, after a warm-up call on 2 polygons: no
interpreter start, imports or polygon reading; for the in-memory variants the reading of the
array is timed separately and not included). Memory: the peak RSS of the child (psutil,
sampled every 50 ms by the parent) and the child's RSS just before the call (after imports,
polygons and, for in-memory variants, the array): their difference is what the computation
itself added. ``GDAL_CACHEMAX`` is set for the children (``--gdal-cache-mb``).

Goals (issue 6): ≥ 10× rasterstats (judged on the Dask run: rs's parallel path),
≤ 1.5× bare exactextract (judged like for like, both on
the in-memory array; rs on the COG against bare exactextract on the decoded array is shown
too), memory bounded by the block size. Prints markdown and replaces the zonal section of
bench/RESULTS.md (``bench.harness.publish``; ``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.harness import (
    emit_result,
    machine_facts,
    markdown_table,
    mib,
    publish,
    python_cmd,
    run_measured,
    summarise,
)

HERE = Path(__file__).resolve().parent
CRS = "EPSG:32650"
PX = 10.0
ORIGIN = (300_000.0, 3_400_000.0)  # top-left corner
PERCENTILES = (10, 25, 75, 90)
BLOCK = 512


def _transform() -> Any:
    from affine import Affine

    return Affine(PX, 0, ORIGIN[0], 0, -PX, ORIGIN[1])


# --- inputs --------------------------------------------------------------------------------------


def make_cog(path: Path, size: int, seed: int = 0) -> None:
    """A ``size × size`` float32 COG: smooth waves + noise, ~1 % NaN, written block by block."""
    from rs.export.cog import CogWriter, GridSpec, RasterBand

    rng = np.random.default_rng(seed)
    grid = GridSpec(crs=CRS, transform=_transform(), shape=(size, size))
    with CogWriter(path, grid, [RasterBand("ndvi")], dtype="float32", nodata=float("nan"),
                   blocksize=BLOCK) as w:
        for r in range(0, size, BLOCK):
            h = min(BLOCK, size - r)
            yy = (r + np.arange(h))[:, None] / size
            for c in range(0, size, BLOCK):
                wd = min(BLOCK, size - c)
                xx = (c + np.arange(wd))[None, :] / size
                v = (0.5 + 0.2 * np.sin(40 * xx) * np.cos(30 * yy)
                     + rng.normal(0, 0.05, (h, wd))).astype(np.float32)
                v[rng.random((h, wd)) < 0.01] = np.nan
                w.write_block(r, c, v)


def make_polygons(path: Path, size: int, n: int, layout: str, seed: int = 1) -> None:
    """``n`` polygons: ``tiling``, Voronoi cells of random points tiling the raster's extent
    grown by 2 % (counties); ``scattered``, star-shaped polygons of radius 5-50 pixels at
    random places (reserves, red-line patches), 2 % of them partly or wholly outside."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    ext = size * PX
    grow = 0.02 * ext
    x0, y1 = ORIGIN
    if layout == "tiling":
        frame = shapely.box(x0 - grow, y1 - ext - grow, x0 + ext + grow, y1 + grow)
        pts = shapely.multipoints(np.c_[rng.uniform(x0 - grow, x0 + ext + grow, n),
                                        rng.uniform(y1 - ext - grow, y1 + grow, n)])
        cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=frame))
        geoms = shapely.intersection(cells, frame)
    else:
        cx = rng.uniform(x0 - grow, x0 + ext + grow, n)
        cy = rng.uniform(y1 - ext - grow, y1 + grow, n)
        k = 12
        ang = (np.arange(k) + rng.uniform(0, 0.5, (n, k))) * 2 * np.pi / k
        r = rng.uniform(5, 50, (n, 1)) * PX * rng.uniform(0.6, 1.0, (n, k))
        geoms = shapely.polygons(np.stack([cx[:, None] + r * np.cos(ang),
                                           cy[:, None] + r * np.sin(ang)], axis=-1))
    gdf = gpd.GeoDataFrame({"zone_id": [f"z{i:05d}" for i in range(len(geoms))]},
                           geometry=geoms, crs=CRS)
    gdf = gdf.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # no spatial order
    gdf.to_parquet(path)


# --- children ------------------------------------------------------------------------------------


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _warm(cog: str, polys: str) -> None:
    """On a worker: imports, GDAL's first open and one call, as the warm-up does here."""
    import geopandas as gpd

    from rs.ecology.zonal import zonal_stats

    zonal_stats(cog, gpd.read_parquet(polys).iloc[:2], id_column="zone_id")


def _runner(variant: str, cog: Path, gdf: Any, subset: int, result: dict[str, Any],
            client: Any = None) -> Callable[[Any], Any]:
    """The call to time, taking the polygons; in-memory variants read the array first."""
    import rasterio

    if variant == "rs-dask":
        from rs.ecology.zonal import zonal_stats
        from rs.pipeline.context import Runtime

        parallel = Runtime(client).part_map("zones")  # what the products pass
        return lambda g: zonal_stats(cog, g, id_column="zone_id", percentiles=PERCENTILES,
                                     parallel=parallel)
    if variant == "rs-cog":
        from rs.ecology.zonal import zonal_stats

        return lambda g: zonal_stats(cog, g, id_column="zone_id", percentiles=PERCENTILES)
    if variant == "rasterstats":
        import pandas as pd
        from rasterstats import zonal_stats as rstats

        stats = ["count", "mean", "median", "std", "min", "max",
                 *(f"percentile_{q}" for q in PERCENTILES)]
        return lambda g: pd.DataFrame(rstats(g, str(cog), stats=stats, nodata=float("nan")),
                                      index=g["zone_id"])
    t0 = time.perf_counter()
    with rasterio.open(cog) as ds:
        arr = ds.read(1)
        transform, wkt = ds.transform, ds.crs.wkt
    result["read_s"] = time.perf_counter() - t0
    if variant == "rs-memory":
        from rs.ecology.zonal import zonal_stats

        return lambda g: zonal_stats(arr, g, id_column="zone_id", transform=transform, crs=wkt,
                                     percentiles=PERCENTILES)
    if variant in ("exactextract-memory", "exactextract-count"):
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource

        h, w = arr.shape
        src = NumPyRasterSource(arr, transform.c, transform.f + h * transform.e,
                                transform.c + w * transform.a, transform.f, srs_wkt=wkt)
        ops = ["count", "mean", "median", "stdev", "min", "max",
               *(f"quantile(q={q / 100})" for q in PERCENTILES)]
        if variant == "exactextract-count":  # the coverage pass alone: the floor
            ops = ["count"]
        return lambda g: exact_extract(src, g, ops, include_cols=["zone_id"],
                                       output="pandas").set_index("zone_id")
    raise SystemExit(f"unknown variant {variant!r}")


def child(variant: str, cog: Path, polys: Path, subset: int, workers: int) -> None:
    import contextlib

    import geopandas as gpd

    gdf = gpd.read_parquet(polys)
    if variant == "rasterstats":
        gdf = gdf.sample(n=min(subset, len(gdf)), random_state=2)
    result: dict[str, Any] = {"variant": variant, "polygons_timed": len(gdf)}
    with contextlib.ExitStack() as stack:
        client = None
        if variant == "rs-dask":
            from rs.pipeline.cluster import dask_client

            client = stack.enter_context(dask_client(workers=workers, threads_per_worker=1,
                                                     processes=True))
            client.run(_warm, str(cog), str(polys))
            result["workers"] = workers
        _timed_call(_runner(variant, cog, gdf, subset, result, client), gdf, cog, variant,
                    result)


def _timed_call(call: Callable[[Any], Any], gdf: Any, cog: Path, variant: str,
                result: dict[str, Any]) -> None:
    call(gdf.iloc[:2])  # warm-up: lazy imports, GDAL's first open
    result["base_rss"] = _rss()
    result["load_before"] = os.getloadavg()[0]
    t0 = time.perf_counter()
    df = call(gdf)
    result["work_s"] = time.perf_counter() - t0
    result["load_after"] = os.getloadavg()[0]
    means = (df["mean"].to_numpy(dtype=float) if "mean" in df.columns
             else np.full(len(df), np.nan))
    result.update(ids=[str(i) for i in df.index[:200]], means=[float(v) for v in means[:200]],
                  pixels=float(np.nansum(df["count"].to_numpy(dtype=float))))
    if variant == "exactextract-count":  # after the timed call: decoding alone
        result["decode_s"] = _decode_every_tile(cog)
    emit_result(result)


def _decode_every_tile(cog: Path) -> float:
    """Seconds to decode every full-resolution tile of ``cog`` once, into one reused buffer
    (no allocation of a whole array)."""
    import rasterio

    with rasterio.Env(GDAL_CACHEMAX=8), rasterio.open(cog) as ds:
        buf = np.empty((BLOCK, BLOCK), dtype=ds.dtypes[0])
        t0 = time.perf_counter()
        for _, win in ds.block_windows(1):
            ds.read(1, window=win, out=buf[:win.height, :win.width])
        return time.perf_counter() - t0


# --- parent --------------------------------------------------------------------------------------


def _inputs(work: Path, size: int, n_polygons: int, layout: str) -> tuple[Path, Path]:
    work.mkdir(parents=True, exist_ok=True)
    cog = work / f"zonal_{size}.tif"
    polys = work / f"zonal_{size}_{n_polygons}_{layout}.parquet"
    if not cog.exists():
        print(f"[zonal] writing a {size:,}² COG to {cog}", file=sys.stderr)
        t0 = time.perf_counter()
        make_cog(cog, size)
        print(f"[zonal] COG written in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if not polys.exists():
        make_polygons(polys, size, n_polygons, layout)
    with cog.open("rb") as f:  # into the OS page cache: every variant reads it warm
        while f.read(1 << 26):
            pass
    return cog, polys


def _tiles_touched(polys: Path, size: int) -> float:
    """The share of the COG's full-resolution tiles under some polygon's bounding box."""
    import geopandas as gpd

    b = gpd.read_parquet(polys).bounds.to_numpy()
    cols = (b[:, [0, 2]] - ORIGIN[0]) / PX
    rows = (ORIGIN[1] - b[:, [3, 1]]) / PX
    n = -(-size // BLOCK)
    hit = np.zeros((n, n), dtype=bool)
    for (c0, c1), (r0, r1) in zip(cols, rows, strict=True):
        c0, c1 = max(int(c0 // BLOCK), 0), min(int(c1 // BLOCK), n - 1)
        r0, r1 = max(int(r0 // BLOCK), 0), min(int(r1 // BLOCK), n - 1)
        if c0 <= c1 and r0 <= r1:
            hit[r0:r1 + 1, c0:c1 + 1] = True
    return float(hit.mean())


@dataclass(frozen=True)
class _Best:
    """Repeated runs of one variant: the time and result of the fastest, the largest peak
    RSS and the largest RSS the call added over all of them."""

    work_s: float
    result: dict[str, Any]
    peak_rss: int
    added: int


def _measure(variant: str, cog: Path, polys: Path, subset: int, cache_mb: int,
             repeats: int, workers: int = 1) -> _Best:
    runs = []
    for k in range(repeats):
        print(f"[zonal] {variant} on {cog.name}, {polys.name} ({k + 1}/{repeats})",
              file=sys.stderr)
        cmd = python_cmd("bench.zonal", "--child", variant, "--cog", str(cog), "--polys",
                         str(polys), "--rasterstats-polygons", str(subset),
                         "--workers", str(workers))
        runs.append(run_measured(cmd, env={"GDAL_CACHEMAX": str(cache_mb)}, timeout=7200))
    best = summarise(runs).best
    return _Best(best.work_s, best.result, max(m.peak_rss for m in runs),
                 max(m.peak_rss - int(m.result["base_rss"]) for m in runs))


def run(size: int, n_polygons: int, layout: str, subset: int, work: Path,
        cache_mb: int, repeats: int, workers: int) -> str:
    cog, polys = _inputs(work, size, n_polygons, layout)
    runs = {v: _measure(v, cog, polys, subset, cache_mb, repeats, workers)
            for v in ("rs-dask", "rs-cog", "exactextract-memory", "rs-memory",
                      "exactextract-count", "rasterstats")}
    half_cog, half_polys = _inputs(work, size // 2, n_polygons, layout)
    half = _measure("rs-cog", half_cog, half_polys, subset, cache_mb, repeats)

    rs_par, rs_cog, bare = runs["rs-dask"], runs["rs-cog"], runs["exactextract-memory"]
    rs_mem, rstats, floor = runs["rs-memory"], runs["rasterstats"], runs["exactextract-count"]
    n_timed = int(rstats.result["polygons_timed"])
    rstats_s = rstats.work_s * n_polygons / n_timed
    raw_bytes = size * size * 4
    decode_s = min(float(m.result["read_s"]) for m in (bare, rs_mem, floor))

    def added(m: _Best) -> int:
        return m.added

    def row(name: str, m: Any, seconds: float, computes: str, note: str = "") -> list[str]:
        load = f"{m.result['load_before']:.1f} → {m.result['load_after']:.1f}"
        return [name, computes, f"{seconds:,.1f} s", f"{seconds / rs_par.work_s:,.2f}",
                mib(m.peak_rss), mib(added(m)), load, note]

    exact = "exact (coverage-weighted): count, mean, median, std, min, max, p10/25/75/90"
    read_note = "+ {:.1f} s reading the array (not counted)"
    rows = [
        row(f"rs `zonal_stats` on the COG, Dask ({workers} worker processes)", rs_par,
            rs_par.work_s, exact + ", valid share", "peak RSS: the whole process tree"),
        row("rs `zonal_stats` on the COG, one process", rs_cog, rs_cog.work_s,
            exact + ", valid share"),
        row("bare exactextract, in-memory array", bare, bare.work_s,
            exact + " (its own quantiles)", read_note.format(bare.result["read_s"])),
        row("rs `zonal_stats`, in-memory array", rs_mem, rs_mem.work_s,
            exact + ", valid share", read_note.format(rs_mem.result["read_s"])),
        row("bare exactextract, in-memory array, `count` only", floor, floor.work_s,
            "the coverage pass alone: the floor of any exactextract run",
            read_note.format(floor.result["read_s"])),
        row(f"rasterstats on the COG (scaled from {n_timed} polygons)", rstats, rstats_s,
            "pixel centres inside (no partial pixels): count, mean, median, std, min, max, "
            "percentile_10/25/75/90", f"{rstats.work_s:.1f} s for {n_timed}; memory for those"),
        row(f"rs `zonal_stats` on a {size // 2:,}² COG (¼ of the pixels)", half, half.work_s,
            exact + ", valid share", "memory check: same polygon count"),
    ]
    by_id = dict(zip(rs_cog.result["ids"], rs_cog.result["means"], strict=True))
    bare_by_id = dict(zip(bare.result["ids"], bare.result["means"], strict=True))
    common = [i for i in by_id if i in bare_by_id]
    d_bare = max((abs(by_id[i] - bare_by_id[i]) for i in common), default=float("nan"))
    d_par = max((abs(by_id[i] - v) for i, v in zip(rs_par.result["ids"],
                                                    rs_par.result["means"], strict=True)
                 if i in by_id), default=float("nan"))
    vs_rstats = rstats_s / rs_par.work_s
    vs_bare_mem = rs_mem.work_s / bare.work_s  # the same input: what rs adds
    vs_bare_cog = rs_cog.work_s / bare.work_s  # the words: rs on the file
    vs_bare_read = rs_cog.work_s / (bare.work_s + decode_s)  # bare, reading the array too
    touched = _tiles_touched(polys, size)
    tiles_s = float(floor.result["decode_s"])
    # exactextract's pass + decoding the tiles under the polygons, on one core
    best_cog_s = floor.work_s + tiles_s * touched
    px = float(rs_cog.result["pixels"])
    budget = (cache_mb + 64) * 2**20 + 16 * 2048 * 2048
    bounded = added(rs_cog) <= budget and added(rs_cog) <= 1.25 * added(half) + 32 * 2**20

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    goals = "\n".join([
        f"- **≥ 10× rasterstats** (both on the COG; rs with {workers} Dask worker processes): "
        f"{met(vs_rstats >= 10)}, {vs_rstats:,.1f}× ({rstats_s:,.1f} s / {rs_par.work_s:,.1f} s;"
        f" one process: {rstats_s / rs_cog.work_s:,.1f}×, the workers "
        f"{rs_cog.work_s / rs_par.work_s:.2f}× faster than one process). Bound: decoding every "
        f"tile of the COG once took {tiles_s:,.1f} s (into one reused buffer; reading it "
        f"into a new array {decode_s:,.1f} s), the polygons' bounding boxes touch "
        f"{touched:.0%} of the tiles, and exactextract's coverage pass alone "
        f"(`count`, in memory) took {floor.work_s:,.1f} s, so an exact exactextract-based run "
        f"on this COG on one core needs roughly {best_cog_s:,.1f} s: about "
        f"{rstats_s / best_cog_s:,.1f}× rasterstats at best here on one core "
        f"({workers * rstats_s / best_cog_s:,.1f}× on {workers} with perfect scaling), "
        f"whatever rs does around exactextract; rs in one process took "
        f"{rs_cog.work_s - best_cog_s:+,.1f} s against that.",
        f"- **≤ 1.5× bare exactextract**: like for like, both on the in-memory array (what rs "
        f"adds to exactextract): {met(vs_bare_mem <= 1.5)}, {vs_bare_mem:.2f}×. rs on the COG "
        f"against bare exactextract on the already decoded array: {met(vs_bare_cog <= 1.5)}, "
        f"{vs_bare_cog:.2f}× (rs pays the decoding, bare does not); against bare exactextract "
        f"plus its {decode_s:,.1f} s of reading the array: {vs_bare_read:.2f}×.",
        f"- **memory bounded by the block size**: {met(bounded)}: rs on the COG added "
        f"{mib(added(rs_cog))} for a {mib(raw_bytes)} raster and {mib(added(half))} for one "
        f"of ¼ the size; budget {mib(budget)} (GDAL_CACHEMAX {cache_mb} MB + 16 B × 2048² "
        "cells of values and coverage per batch (max_cells_in_memory) + 64 MiB of tables); "
        "met when within the budget and not growing with the raster (≤ 1.25× the ¼-raster "
        "figure + 32 MiB). The in-memory variants hold the whole array.",
    ])
    what = ("Voronoi cells tiling the raster (edge ones partly outside)" if layout == "tiling"
            else "star polygons of radius 5-50 px scattered over it (2 % partly or wholly "
            "outside)")
    return "\n\n".join([
        f"### {n_polygons:,} polygons ({layout}) over a {size:,} × {size:,} raster",
        f"float32 COG, {BLOCK}-pixel tiles, deflate, {mib(cog.stat().st_size)} on disk "
        f"({mib(raw_bytes)} raw); {n_polygons:,} {what}, in random order; "
        f"{px / n_polygons:,.0f} covered pixels per polygon on average. Each variant run "
        f"{repeats}× in fresh processes, after a warm-up call on 2 polygons; the fastest run "
        "counts (time, load average), peak RSS and RSS added are the largest over the runs. "
        "Load average: the machine's 1-minute load before → after the timed call (other work "
        "on this 2-core machine shows there and slows every variant).",
        markdown_table(["variant", "computes", "time", "time / rs on COG", "peak RSS",
                        "RSS added by the call", "load avg", "note"], rows),
        goals,
        f"Agreement: rs vs bare exactextract, max |Δ mean| over {len(common)} polygons = "
        f"{d_bare:.1e} (the same coverage algorithm); rs with Dask vs in one process: "
        f"{d_par:.1e}.",
    ])


SECTION = "## Zonal statistics"


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.zonal",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="raster side in pixels")
    parser.add_argument("--polygons", type=int, default=5_000)
    parser.add_argument("--layout", choices=["tiling", "scattered", "both"], default="both",
                        help="polygons tiling the raster, scattered small ones, or both")
    parser.add_argument("--rasterstats-polygons", type=int, default=250,
                        help="polygons rasterstats is timed on (scaled to all)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs per variant (the fastest counts: load from other work)")
    parser.add_argument("--gdal-cache-mb", type=int, default=128, help="GDAL_CACHEMAX")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="Dask worker processes of the rs-dask variant (default: the "
                        "usable cores)")
    parser.add_argument("--work", type=Path, default=HERE / "_work", help="scratch folder "
                        "(the COG and polygons are kept there and reused)")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md",
                        help="RESULTS.md whose zonal section is replaced")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cog", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--polys", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.cog, args.polys, args.rasterstats_polygons, args.workers)
        return ""
    cmd = "python -m bench.zonal " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    facts = machine_facts()
    text = "\n\n".join([
        SECTION,
        f"Written by `{cmd}` on {facts['date']}; {facts['cpu']}, {facts['cores']}, "
        f"{facts['ram']}; {facts['libraries']}.",
        *(run(args.size, args.polygons, layout, args.rasterstats_polygons, args.work,
              args.gdal_cache_mb, args.repeats, args.workers)
          for layout in (["tiling", "scattered"] if args.layout == "both" else [args.layout])),
    ]) + "\n"
    publish(text, SECTION, results=args.results, out=args.out, write=not args.no_write)
    return text


if __name__ == "__main__":
    main()
