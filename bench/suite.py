"""Run benchmark 1 ("composite") and render its section of RESULTS.md.

Every measured run is a fresh subprocess (:func:`bench.harness.run_measured`), so start-up
costs are paid each time and peak memory is per variant. Repetitions are interleaved
(a, b, rs, a, b, rs, ...) so that a slow moment of the machine does not hit one variant only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Measurement, Summary, markdown_table, mib, python_cmd, run_measured
from bench.scene import N_DATES, WORLD_PX, Area, centred_area, ensure_world

__all__ = ["CompositeResults", "Goal", "render", "run_composite"]

#: goals of benchmark 1 (docs: the brief of bench/)
GOAL_SPEEDUP_VS_SEQUENTIAL = 1.5  # (a) / rs >= 1.5
GOAL_RATIO_VS_FLOOR = 1.3  # rs / (b) <= 1.3
GOAL_MEMORY_FLATNESS = 1.2  # peak(2048 px) / peak(1024 px) <= 1.2
SMALL_PX = 1024

VARIANTS = {
    "a": "(a) sequential rasterio + numpy",
    "b": "(b) floor: bare odc-stac + dask threads",
    "rs": "rs pipeline (run_pipeline)",
}


@dataclass(frozen=True)
class Goal:
    name: str
    target: str
    measured: float
    met: bool


@dataclass(frozen=True)
class CompositeResults:
    area: Area
    small: Area
    summaries: dict[str, Summary]  # variant key -> summary, at the full area
    small_rs: Summary
    reps: int

    def goals(self) -> list[Goal]:
        rs = self.summaries["rs"]
        speedup = self.summaries["a"].best_s / rs.best_s
        vs_floor = rs.best_s / self.summaries["b"].best_s
        flat = rs.peak_rss / self.small_rs.peak_rss
        return [
            Goal("speed-up over (a): (a) / rs", f">= {GOAL_SPEEDUP_VS_SEQUENTIAL}", speedup,
                 speedup >= GOAL_SPEEDUP_VS_SEQUENTIAL),
            Goal("overhead over the floor: rs / (b)", f"<= {GOAL_RATIO_VS_FLOOR}", vs_floor,
                 vs_floor <= GOAL_RATIO_VS_FLOOR),
            Goal(f"memory flatness: peak rs {self.area.px} px / {self.small.px} px",
                 f"<= {GOAL_MEMORY_FLATNESS}", flat, flat <= GOAL_MEMORY_FLATNESS),
        ]


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _warm_cache(world: Path) -> None:
    """Read every file of the world once, so that every variant starts with a warm page cache."""
    n = 0
    for path in (world / "sentinel-2-l2a").rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                while f.read(1 << 24):
                    pass
            n += 1
    _log(f"page cache warmed with {n} files")


def _command(key: str, world: Path, area: Area, scratch: Path) -> list[str]:
    bounds = ",".join(f"{v:.3f}" for v in area.bounds)
    if key == "a":
        return python_cmd("bench.baseline_sequential", "--world", str(world), "--bounds", bounds,
                          "--out", str(scratch / "sequential.tif"))
    if key == "b":
        return python_cmd("bench.composite", "floor", "--world", str(world), "--bounds", bounds,
                          "--crs", area.crs, "--out", str(scratch / "floor.tif"))
    aoi = area.write_geojson(scratch / "aoi.geojson")
    return python_cmd("bench.composite", "rs", "--world", str(world), "--aoi", str(aoi),
                      "--out", str(scratch / "rs"))


def _measure(key: str, world: Path, area: Area, work: Path, rep: int, reps: int) -> Measurement:
    scratch = work / "runs" / f"{key}-{area.name}"
    scratch.mkdir(parents=True, exist_ok=True)
    env = {"RS_CACHE_DIR": str(work / "rs-cache")}
    _log(f"{VARIANTS[key]} on {area.name}, repetition {rep}/{reps} ...")
    m = run_measured(_command(key, world, area, scratch), env=env)
    _log(f"  work {m.work_s:.1f} s, process {m.process_s:.1f} s, peak RSS {mib(m.peak_rss)}")
    return m


def run_composite(work: Path, reps: int = 2) -> CompositeResults:
    """Generate (or reuse) the world, then run every variant ``reps`` times."""
    world = ensure_world(work / f"world-{WORLD_PX}")
    _warm_cache(world)
    area, small = centred_area(WORLD_PX), centred_area(SMALL_PX)
    runs: dict[str, list[Measurement]] = {k: [] for k in VARIANTS}
    small_runs: list[Measurement] = []
    for rep in range(1, reps + 1):
        for key in VARIANTS:
            runs[key].append(_measure(key, world, area, work, rep, reps))
        small_runs.append(_measure("rs", world, small, work, rep, reps))
    return CompositeResults(
        area=area,
        small=small,
        summaries={k: Summary(tuple(v)) for k, v in runs.items()},
        small_rs=Summary(tuple(small_runs)),
        reps=reps,
    )


def _stage_table(m: Measurement) -> str:
    stages: dict[str, float] = m.result.get("stages", {})
    total = m.work_s
    rows = [
        (name.removesuffix("_s"), f"{sec:.2f}", f"{100 * sec / total:.0f} %")
        for name, sec in sorted(stages.items(), key=lambda kv: -kv[1])
    ]
    rows.append(("**total (work)**", f"**{total:.2f}**", "100 %"))
    return markdown_table(["stage", "seconds", "share"], rows)


def render(res: CompositeResults) -> str:
    """The markdown section of benchmark 1."""
    a, b, rs = (res.summaries[k] for k in ("a", "b", "rs"))
    px = res.area.px
    rows = []
    for key, s in res.summaries.items():
        ratio_a = a.best_s / s.best_s
        ratio_b = s.best_s / b.best_s
        rows.append((
            VARIANTS[key],
            f"{s.best_s:.1f}",
            f"{s.spread_pct:.0f} % ({', '.join(f'{m.work_s:.1f}' for m in s.runs)})",
            f"{s.best_process_s:.1f}",
            f"{ratio_a:.2f}",
            f"{ratio_b:.2f}",
            mib(s.peak_rss),
            "x".join(str(v) for v in s.best.result.get("shape", [])),
        ))
    times = markdown_table(
        ["variant", "best work time (s)", "spread (all runs, s)", "best process wall (s)",
         "(a) / variant", "variant / (b)", "peak RSS, process tree", "output px"],
        rows,
    )
    goals = markdown_table(
        ["goal", "target", "measured", "verdict"],
        [(g.name, g.target, f"{g.measured:.2f}", "met" if g.met else "**not met**")
         for g in res.goals()],
    )
    small = res.small_rs
    flat = markdown_table(
        ["rs AOI", "pixels", "best work time (s)", "peak RSS, process tree (each run)"],
        [
            (f"{res.small.px} x {res.small.px}", f"{res.small.px**2:,}", f"{small.best_s:.1f}",
             ", ".join(mib(m.peak_rss) for m in small.runs)),
            (f"{px} x {px}", f"{px**2:,}", f"{rs.best_s:.1f}",
             ", ".join(mib(m.peak_rss) for m in rs.runs)),
        ],
    )
    return "\n\n".join([
        "## Benchmark 1: composite",
        f"The demo product (median of clear observations of red, green, blue, nir, masked with "
        f"SCL classes 0 1 3 8 9 11, plus NDVI of the composite) over a synthetic Sentinel-2 L2A "
        f"world of {px} x {px} px at 10 m and {N_DATES} dates (COGs, deflate, 512 px tiles; "
        f"SCL at 20 m), page cache warm. Each run is a fresh process; {res.reps} repetitions "
        "per variant, interleaved; the best (minimum) time is reported with the spread.",
        "- **work time**: measured inside the process from the first line of work to the "
        "result on disk (excludes interpreter start and imports); **process wall**: the whole "
        "subprocess as the parent timed it.\n"
        "- **peak RSS**: the sum of the RSS of the process and all its descendants (Dask "
        "worker processes, the embedded STAC server), sampled every 50 ms by the parent; the "
        "largest peak over the repetitions. Pages shared between processes count in each of them.\n"
        "- **rs** runs `run_pipeline(load_spec(spec), force=True)`: embedded STAC API over the "
        "world folder, search, asset preflight, odc-stac load, the local Dask cluster with the "
        "spec's default `dask:` settings, block-wise compute, COG conversion "
        "(deflate + overviews) of composite, NDVI and clear-count layers, two PNG quicklooks, "
        "STAC output item and run report. It also computes `clear_count` and masks to the AOI "
        "polygon, which (a) and (b) do not.\n"
        "- **(a)** reads item JSON files from disk, then rasterio windows scene by scene, "
        "`np.nanmedian`, one uncompressed tiled GeoTIFF write. No Dask.\n"
        "- **(b)** reads item JSON files with pystac (no search), `odc.stac.load(chunks=1024 px)`"
        ", mask, `.chunk(time=-1).median('time')`, NDVI, `.compute()` on dask's threaded "
        "scheduler, one uncompressed tiled GeoTIFF write of the 5 layers.",
        "### Times and memory",
        times,
        "### Goals",
        goals,
        "### Memory flatness (rs, same world, centred square AOIs)",
        flat,
        "### Where the time goes (best run of each variant)",
        "rs stages are timed by wrapping the functions the runner and the composite product "
        "call (bench/stages.py); nested calls are charged to the innermost stage only, so "
        "stages and `other` add up to the work time. `api_start` / `api_stop`: the embedded "
        "STAC API; `search`: the STAC search (`SourceSet.find`) except `collection_check`, the "
        "collection ids checked at the start of each search; `preflight`: asset headers opened "
        "(`SourceSet.preflight`); `cluster_start` / `cluster_stop`: the local Dask cluster; "
        "`graph_build`: the product's `build` outside every other stage (output grid, block "
        "plan, block-task graph, asset metadata); `compute_wait`: the time the product waits "
        "for computed blocks from the workers (`Runtime.compute_blocks`: load + mask + median "
        "+ NDVI + clear count); `scratch_open` / `scratch_write`: creating, writing and closing "
        "the tiled scratch GeoTIFFs; `cog_convert`: the scratch -> COG copies with overviews; "
        "`layer_stats`: per-layer statistics; `quicklooks`: the PNGs; `stac_item`: building and "
        "writing the output item; `run_report`: the run report.",
        f"**rs** ({px} px)\n\n" + _stage_table(rs.best),
        f"**rs** ({res.small.px} px)\n\n" + _stage_table(small.best),
        "**(a) sequential**\n\n" + _stage_table(a.best),
        "**(b) floor**\n\n" + _stage_table(b.best),
    ])
