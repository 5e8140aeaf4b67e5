"""Benchmark 2 ("planning"): graph bytes and time of planning a product over many scenes.

Compares two ways of building the block-task graph of a product:

- **before (bf5e96a)**: the shape of ``rs.pipeline.products.tiled_composite`` at commit
  bf5e96a (copied here: that module was since refactored into ``rs.products.composite`` and
  ``rs.load.block``): one shared delayed holding the whole item list, every block task
  depends on it and loads all items over its tile; keys carry a random uuid.
- **now**, planned blocks (``rs.pipeline.planning``): the same shared delayed, but each block
  task also gets the tuple of indices of the items whose footprint reaches its tile
  (:func:`~rs.pipeline.planning.plan_blocks`) and a deterministic key
  (:func:`~rs.pipeline.planning.task_key`).

Bytes are what a distributed client puts on the wire for the graph: the client's own
``serialize(to_serialize(collections_to_expr(...)))`` (as in ``Client._graph_to_futures``)
framed by ``distributed.protocol.dumps`` in an ``update-graph`` message; only the graph part of
the message is counted. Nothing is computed and no cluster is needed for the one-graph numbers;
the per-block numbers (one ``update-graph`` per block, as ``rs.pipeline.blocks.iter_blocks``
submits) use an in-process ``Client`` only to persist the shared items once.

Run: ``python -m bench planning`` or ``python bench/planning.py`` (``--help`` for options).
The section ``## Planning: graph size and time`` of bench/RESULTS.md is replaced (or appended).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dask
import numpy as np
import pystac
import shapely
from dask.base import collections_to_expr
from distributed.protocol import dumps, serialize
from distributed.protocol.serialize import Serialized, to_serialize
from odc.geo.geobox import GeoBox, GeoboxTiles
from odc.geo.geom import Geometry
from shapely.geometry import Polygon, mapping

from bench.harness import best_of, machine_facts, markdown_table, write_section
from rs.pipeline.planning import footprints_of, plan_blocks, task_key

HERE = Path(__file__).resolve().parent
SECTION = "## Planning: graph size and time"

CRS = "EPSG:32650"  # UTM 50N (eastern China)
ORIGIN = (300_000.0, 3_300_000.0)
RES = 10.0
BLOCK = 512  # px, the block size the chunking rule gives for 24 dates x 5 bands
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")

#: (blocks, scenes) configurations of the scaling table; the first is the headline one
CONFIGS: tuple[tuple[int, int], ...] = ((400, 1000), (100, 1000), (400, 250))


# --- inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """Stand-in for the composite product spec (what a block task is given besides items)."""

    bands: tuple[str, ...] = ("red", "green", "blue", "nir")
    indices: tuple[str, ...] = ("ndvi",)
    statistic: str = "median"
    mask: tuple[str, ...] = ("cloud", "shadow", "snow")
    resolution: float = RES


def output_geobox(n_blocks: int) -> GeoBox:
    """A square grid of ``n_blocks`` tiles of BLOCK x BLOCK px at 10 m."""
    side = math.isqrt(n_blocks)
    if side * side != n_blocks:
        raise ValueError(f"n_blocks must be a square number, got {n_blocks}")
    size = side * BLOCK * RES
    x0, y0 = ORIGIN
    return GeoBox.from_bbox((x0, y0, x0 + size, y0 + size), CRS, resolution=RES)


def make_items(n: int, geobox: GeoBox, seed: int = 0) -> list[pystac.Item]:
    """``n`` Sentinel-2-like items with rotated 10-30 km footprints scattered over the grid.

    Centres fall within the grid's extent grown by 10 % on each side (some scenes touch no
    block); each item has 12 band assets, SCL and a visual asset with 100-character hrefs and
    the properties a Sentinel-2 L2A item usually has.
    """
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = geobox.extent.boundingbox
    pad = 0.1 * (maxx - minx)
    start = dt.datetime(2023, 1, 1, 2, 50, tzinfo=dt.UTC)
    items = []
    for n_item in range(n):
        cx, cy = rng.uniform(minx - pad, maxx + pad), rng.uniform(miny - pad, maxy + pad)
        w, h = rng.uniform(10_000, 30_000, size=2)
        angle = math.radians(rng.uniform(-12, 12))
        corners = np.array([(-w, -h), (w, -h), (w, h), (-w, h)]) / 2
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        xy = corners @ rot.T + (cx, cy)
        footprint = Geometry(Polygon(xy), CRS).to_crs("EPSG:4326").geom
        when = start + dt.timedelta(days=int(rng.integers(0, 365)), seconds=n_item)
        item_id = f"S2B_MSIL2A_{when:%Y%m%dT%H%M%S}_N0509_R032_T50RQU_{n_item:05d}"
        item = pystac.Item(
            item_id,
            mapping(footprint),
            list(footprint.bounds),
            when,
            {
                "platform": "sentinel-2b",
                "constellation": "sentinel-2",
                "instruments": ["msi"],
                "eo:cloud_cover": float(rng.uniform(0, 100)),
                "proj:epsg": 32650,
                "s2:processing_baseline": "05.09",
                "s2:mgrs_tile": "50RQU",
                "s2:product_type": "S2MSI2A",
                "sat:relative_orbit": 32,
                "view:sun_elevation": float(rng.uniform(20, 70)),
            },
            collection="sentinel-2-l2a",
        )
        base = f"https://data.example.invalid/sentinel-2-l2a/50/R/QU/{when:%Y/%m/%d}/{item_id}"
        for band in (*BANDS, "SCL", "visual"):
            item.add_asset(band, pystac.Asset(f"{base}/{band}.tif",
                                              media_type=pystac.MediaType.COG, roles=["data"]))
        items.append(item)
    return items


def aoi_of(geobox: GeoBox) -> shapely.Geometry:
    """The AOI: the grid's extent in lon/lat, slightly inset (a block task is given it)."""
    return geobox.extent.to_crs("EPSG:4326").geom.buffer(-0.001)


# --- the two graph shapes ------------------------------------------------------------------------


def _block_before(items: list[pystac.Item], tile: GeoBox, product: Product,
                  aoi: shapely.Geometry, layers: list[str], on_error: str) -> Any:
    """Stand-in for a block task of the design before (never run by the benchmark)."""
    raise NotImplementedError


def _block_now(items: list[pystac.Item], which: tuple[int, ...], tile: GeoBox,
               product: Product, aoi: shapely.Geometry, layers: list[str],
               on_error: str) -> Any:
    """Stand-in for a block task of the design now (never run by the benchmark)."""
    raise NotImplementedError


LAYERS = ["red", "green", "blue", "nir", "ndvi", "clear_count"]


def graph_before(items: Sequence[pystac.Item], geobox: GeoBox, product: Product,
                 aoi: shapely.Geometry, shared: Any = None) -> list[Any]:
    """Block tasks as ``tiled_composite`` built them at commit bf5e96a."""
    tiles = GeoboxTiles(geobox, (BLOCK, BLOCK))
    token = uuid.uuid4().hex[:12]
    if shared is None:
        shared = dask.delayed(list(items), name=f"rs-items-{token}", traverse=False)
    tasks = []
    for iy in range(tiles.shape[0]):
        for ix in range(tiles.shape[1]):
            tasks.append(dask.delayed(_block_before, pure=True)(
                shared, tiles[iy, ix], product, aoi, LAYERS, "skip",
                dask_key_name=f"rs-composite-{token}-{iy}-{ix}",
            ))
    return tasks


def shared_items(items: Sequence[pystac.Item]) -> Any:
    """The one delayed of all items, under a key derived from the items' ids."""
    key = task_key("rs-items", tuple(item.id for item in items))
    return dask.delayed(list(items), name=key, traverse=False)


def graph_now(items: Sequence[pystac.Item], geobox: GeoBox, product: Product,
              aoi: shapely.Geometry, shared: Any = None) -> list[Any]:
    """Block tasks of the design now: indices per block, deterministic keys."""
    planned = plan_blocks(geobox, footprints_of(items), (BLOCK, BLOCK))
    if shared is None:
        shared = shared_items(items)
    base = (shared.key, product, aoi.wkb, tuple(LAYERS), "skip")
    return [
        dask.delayed(_block_now, pure=True)(
            shared, b.items, b.tile, product, aoi, LAYERS, "skip",
            dask_key_name=task_key("rs-composite", *base, b.tile, b.items),
        )
        for b in planned
    ]


# --- measures ------------------------------------------------------------------------------------


def wire_bytes(collections: Sequence[Any]) -> int:
    """Bytes of the graph part of the ``update-graph`` message a client sends for these."""
    expr = collections_to_expr(list(collections), True)
    ser = Serialized(*serialize(to_serialize(expr), on_error="raise"))
    return sum(len(frame) for frame in dumps({"op": "update-graph", "expr_ser": ser}))




@dataclass(frozen=True)
class ConfigResult:
    blocks: int
    scenes: int
    item_bytes: int  # the shared item list alone, on the wire
    items_per_block_mean: float
    empty_blocks: int
    plan_s: float  # footprints_of + plan_blocks
    build_before_s: float
    build_now_s: float  # includes planning
    one_graph_before: int
    one_graph_now: int
    per_block_before: int  # sum over blocks of one update-graph per block
    per_block_now: int  # items persisted once + sum of per-block graphs
    keys_stable_before: bool
    keys_stable_now: bool
    item_block_pairs_before: int
    item_block_pairs_now: int


def measure(blocks: int, scenes: int, reps: int) -> ConfigResult:
    """Time and size both designs; an in-process client starts after the timings, to persist."""
    geobox = output_geobox(blocks)
    items = make_items(scenes, geobox, seed=blocks * 7919 + scenes)
    product, aoi = Product(), aoi_of(geobox)

    def plan() -> Any:
        return plan_blocks(geobox, footprints_of(items), (BLOCK, BLOCK))

    plan_s, planned = best_of(reps, plan)
    build_before_s, before = best_of(reps, lambda: graph_before(items, geobox, product, aoi))
    build_now_s, new = best_of(reps, lambda: graph_now(items, geobox, product, aoi))
    keys_before = [t.key for t in before] == [t.key for t in
                                              graph_before(items, geobox, product, aoi)]
    keys_now = [t.key for t in new] == [t.key for t in graph_now(items, geobox, product, aoi)]

    shared = shared_items(items)
    item_bytes = wire_bytes([shared])
    # before, per block: every update-graph carries the shared item list again
    per_block_before = sum(wire_bytes([t]) for t in before)
    # now, per block: the items are persisted once, each block graph refers to them
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=1,
                dashboard_address=None) as client:
        persisted = client.persist(shared)
        new_on_cluster = graph_now(items, geobox, product, aoi, shared=persisted)
        per_block_now = item_bytes + sum(wire_bytes([t]) for t in new_on_cluster)
    counts = [len(b.items) for b in planned]
    return ConfigResult(
        blocks=len(planned),
        scenes=scenes,
        item_bytes=item_bytes,
        items_per_block_mean=statistics.fmean(counts),
        empty_blocks=sum(1 for c in counts if c == 0),
        plan_s=plan_s,
        build_before_s=build_before_s,
        build_now_s=build_now_s,
        one_graph_before=wire_bytes(before),
        one_graph_now=wire_bytes(new),
        per_block_before=per_block_before,
        per_block_now=per_block_now,
        keys_stable_before=keys_before,
        keys_stable_now=keys_now,
        item_block_pairs_before=len(planned) * scenes,
        item_block_pairs_now=sum(counts),
    )


# --- report --------------------------------------------------------------------------------------


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def render(results: Sequence[ConfigResult], command: str, reps: int) -> str:
    head = results[0]
    facts = machine_facts()
    rows = [
        ("plan: footprints_of + plan_blocks", f"{1e3 * head.plan_s:.1f} ms", "-"),
        ("build the block-task graph", f"{1e3 * head.build_before_s:.1f} ms",
         f"{1e3 * head.build_now_s:.1f} ms (planning included)"),
        ("graph bytes, one update-graph for all blocks", _mb(head.one_graph_before),
         _mb(head.one_graph_now)),
        ("graph bytes, one update-graph per block (iter_blocks)", _mb(head.per_block_before),
         _mb(head.per_block_now) + " (items persisted once)"),
        ("(item, block) pairs handed to block loaders", f"{head.item_block_pairs_before:,}",
         f"{head.item_block_pairs_now:,}"),
        ("keys equal when the graph is built twice", str(head.keys_stable_before),
         str(head.keys_stable_now)),
    ]
    headline = markdown_table(
        ["", "before (bf5e96a)", "now"], rows,
    )
    scaling = markdown_table(
        ["blocks", "scenes", "item list alone", "mean items / block", "empty blocks",
         "one graph: before", "one graph: now", "per block: before",
         "per block: now", "plan time"],
        [
            (r.blocks, r.scenes, _mb(r.item_bytes), f"{r.items_per_block_mean:.1f}",
             r.empty_blocks, _mb(r.one_graph_before), _mb(r.one_graph_now),
             _mb(r.per_block_before), _mb(r.per_block_now), f"{1e3 * r.plan_s:.1f} ms")
            for r in results
        ],
    )
    return "\n\n".join([
        SECTION,
        f"Written by `{command}` on {facts['date']} ({facts['cpu']}, {facts['cores']}); "
        f"times are the best of {reps} repetitions. Rewritten by every run of this command "
        "(and kept as it is by `make bench`).",
        f"A product on a square grid of {BLOCK} px blocks at {RES:g} m in {CRS} over synthetic "
        "Sentinel-2 items (12 bands + SCL + visual assets, rotated 10-30 km footprints "
        "scattered over the grid and 10 % around it), built in memory by `bench/planning.py`. "
        "**before (bf5e96a)** is the graph shape of `tiled_composite` at commit bf5e96a (one "
        "shared delayed of all items, every block task depends on it, uuid keys); **now** "
        "(planned blocks) adds per block the tuple of item indices from `plan_blocks` and keys "
        "from `task_key`. Nothing is computed.",
        "- **graph bytes** = the frames of `distributed.protocol.dumps` of the `update-graph` "
        "message's graph part, serialised exactly as `Client._graph_to_futures` does "
        "(`serialize(to_serialize(collections_to_expr(...)))`): what the client puts on the "
        "wire, using distributed's own serialisation (rs pickles nothing itself).\n"
        "- **one graph**: all blocks submitted in one `client.compute`. **per block**: one "
        "`client.compute` per block, as `iter_blocks` submits to bound blocks in flight; the "
        "client does not drop keys the scheduler already has, so each submission carries its "
        "whole graph. Now the item list is persisted once (`client.persist`, "
        "its bytes counted once) and the block graphs refer to it by key.\n"
        "- **(item, block) pairs**: how many items the block tasks together hand to the "
        "loader (before, every block loaded every item over its tile).",
        f"### {head.blocks} blocks x {head.scenes} scenes",
        headline,
        "### Scaling",
        scaling,
        "### Reading",
        _reading(results),
    ])


def _reading(results: Sequence[ConfigResult]) -> str:
    by = {(r.blocks, r.scenes): r for r in results}
    lines = []
    if {(400, 1000), (100, 1000), (400, 250)} <= set(by):
        a, b, c = by[(400, 1000)], by[(100, 1000)], by[(400, 250)]
        lines.append(
            f"- Per-block submission before (bf5e96a) grew as blocks x scenes: "
            f"{_mb(b.per_block_before)} (100 x 1000) -> {_mb(a.per_block_before)} (400 x 1000, "
            f"x{a.per_block_before / b.per_block_before:.1f}) and {_mb(c.per_block_before)} "
            f"(400 x 250: a quarter of the scenes, x{a.per_block_before / c.per_block_before:.1f} "
            "smaller). Now, "
            f"with the items persisted once: {_mb(b.per_block_now)} -> "
            f"{_mb(a.per_block_now)} -> {_mb(c.per_block_now)}: the item list once plus "
            "a small graph per block (blocks + scenes)."
        )
        lines.append(
            f"- In one graph both designs send the item list once (before "
            f"{_mb(a.one_graph_before)}, now {_mb(a.one_graph_now)} at 400 x 1000): "
            "the shared delayed already avoids blocks x scenes there; the index tuples add "
            f"{_mb(a.one_graph_now - a.one_graph_before)}. The new design's gain in "
            f"that mode is on the workers: {a.item_block_pairs_now:,} (item, block) loads "
            f"instead of {a.item_block_pairs_before:,}, and keys that are equal across runs."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "python -m bench planning") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timing repetitions (default 5)")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args(argv)
    command = " ".join([prog, *(argv or [])])
    results = []
    for blocks, scenes in CONFIGS:
        print(f"[bench] planning: {blocks} blocks x {scenes} scenes ...", file=sys.stderr,
              flush=True)
        results.append(measure(blocks, scenes, args.reps))
    section = render(results, command, args.reps)
    if args.no_write:
        print(section)
    else:
        write_section(args.results, SECTION, section)
        print(f"[bench] wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    # run the module's own copy: functions defined in __main__ would be pickled by value by
    # distributed (cloudpickle) and inflate the per-block graphs
    from bench.planning import main as _main

    _main(sys.argv[1:], prog="python bench/planning.py")
