"""Benchmark 1, "composite": the rs pipeline (variant rs) and bare odc-stac (variant b, floor).

Each variant is run in its own subprocess by :mod:`bench.suite`::

    python -m bench.composite rs --world ROOT --aoi AOI.geojson --out DIR
    python -m bench.composite floor --world ROOT --bounds L,B,R,T --crs EPSG:32650 --out FILE

The sequential baseline, variant (a), is :mod:`bench.baseline_sequential`.

Both compute the demo product: cloud / shadow / snow masked median of red, green, blue, nir over
all 24 dates, and NDVI of the composite, on the 10 m grid of the AOI square.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from bench.harness import emit_result

__all__ = ["main", "run_floor", "run_rs", "write_spec"]

BANDS = ["red", "green", "blue", "nir"]
MASKED_SCL = [0, 1, 3, 8, 9, 11]
CHUNK = 1024  # the spatial chunk rs loads with (rs.load._chunks.LOAD_CHUNK)


def write_spec(path: Path, *, world: Path, aoi: Path, output: Path) -> Path:
    """The demo product over the whole world's time range as a pipeline spec (YAML)."""
    meta = json.loads((world / "world.json").read_text(encoding="utf-8"))
    days = [dt.datetime.fromisoformat(t).date() for t in meta["datetimes"]]
    spec = f"""\
# written by bench/composite.py
name: bench
aoi: {aoi}
sources:
  s2:
    embedded: {world}
    collections: [sentinel-2-l2a]
periods:
  all: {{start: {min(days)}, end: {max(days)}}}
steps:
  - id: composite
    kind: composite
    bands: [{", ".join(BANDS)}]
    statistic: median
    indices: [ndvi]
    resolution: 10
    mask: [cloud, shadow, snow]
on_scene_error: skip
output: {output}
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec, encoding="utf-8")
    return path


def run_rs(world: Path, aoi: Path, out: Path) -> dict[str, Any]:
    """Variant rs: ``run_pipeline(load_spec(spec), force=True)`` with per-stage timings."""
    import rasterio

    from bench.stages import StageClock, instrument_runner
    from rs.pipeline.runner import run_pipeline
    from rs.pipeline.spec import load_spec

    clock = StageClock()
    instrument_runner(clock)
    spec_path = write_spec(out / "spec.yaml", world=world, aoi=aoi, output=out / "output")
    t0 = time.perf_counter()
    result = run_pipeline(load_spec(spec_path), force=True)
    work = time.perf_counter() - t0
    if result.status != "done":
        raise RuntimeError(f"rs run ended {result.status!r}, not 'done' (force=True)")
    composite = next(p for p in result.files if p.name.endswith("_composite.tif"))
    with rasterio.open(composite) as src:
        shape = [src.height, src.width]
    stages = {f"{k}_s": v for k, v in clock.seconds.items()}
    stages["other_s"] = work - sum(clock.seconds.values())
    return {
        "work_s": work,
        "stages": stages,
        "shape": shape,
        "scenes": len(result.scenes_used),
        "skipped": len(result.scenes_skipped),
        "layers": result.layers,
    }


def run_floor(world: Path, bounds: tuple[float, float, float, float], crs: str,
              out: Path) -> dict[str, Any]:
    """Variant (b): bare ``odc.stac.load`` + mask + ``median("time")`` + NDVI + ``.compute()``
    on dask's default threaded scheduler, then one rasterio write (tiled, uncompressed)."""
    import numpy as np
    import odc.stac
    import pystac
    import rasterio
    import xarray as xr
    from odc.geo.geobox import GeoBox

    t0 = time.perf_counter()
    meta = json.loads((world / "world.json").read_text(encoding="utf-8"))
    items = sorted(
        (pystac.Item.from_file(str(world / p)) for p in meta["items"]),
        key=lambda it: it.datetime or dt.datetime.min,
    )
    gbox = GeoBox.from_bbox(bounds, crs, resolution=10)
    ds = odc.stac.load(
        items,
        bands=[*BANDS, "scl"],
        geobox=gbox,
        chunks={"x": CHUNK, "y": CHUNK},
        groupby="time",
        resampling={"scl": "nearest", "*": "bilinear"},
    )
    if ds.sizes["time"] != len(items):
        raise RuntimeError(f"expected {len(items)} time slices, got {ds.sizes['time']}")
    offsets = [
        -0.1 if str(it.properties.get("s2:processing_baseline", "")) >= "04.00" else 0.0
        for it in items
    ]
    offset = xr.DataArray(np.asarray(offsets, np.float32), dims="time", coords={"time": ds.time})
    bad = ds["scl"].isin(MASKED_SCL)
    refl = xr.Dataset(
        {b: (ds[b].where(ds[b] != 0) * np.float32(1e-4) + offset).where(~bad) for b in BANDS}
    )
    comp = refl.chunk({"time": -1}).median("time")
    comp["ndvi"] = (comp["nir"] - comp["red"]) / (comp["nir"] + comp["red"])
    t1 = time.perf_counter()
    result = comp.compute()
    t2 = time.perf_counter()
    layers = [*BANDS, "ndvi"]
    data = np.stack([result[v].values.astype(np.float32) for v in layers])
    profile = {
        "driver": "GTiff", "width": data.shape[2], "height": data.shape[1], "count": len(layers),
        "dtype": "float32", "crs": crs, "transform": gbox.transform, "nodata": float("nan"),
        "tiled": True, "blockxsize": 512, "blockysize": 512,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    t3 = time.perf_counter()
    return {
        "work_s": t3 - t0,
        "stages": {"graph_build_s": t1 - t0, "compute_s": t2 - t1, "write_s": t3 - t2},
        "shape": list(data.shape[1:]),
        "scenes": len(items),
        "ndvi_mean": float(np.nanmean(data[-1])),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one variant of the composite benchmark")
    parser.add_argument("variant", choices=["rs", "floor"])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--aoi", type=Path, help="GeoJSON AOI (variant rs)")
    parser.add_argument("--bounds", help="left,bottom,right,top in --crs (variant floor)")
    parser.add_argument("--crs", default="EPSG:32650")
    args = parser.parse_args(argv)
    args.world, args.out = args.world.resolve(), args.out.resolve()
    if args.variant == "rs":
        if args.aoi is None:
            parser.error("variant rs needs --aoi")
        emit_result(run_rs(args.world, args.aoi.resolve(), args.out))
    else:
        if args.bounds is None:
            parser.error("variant floor needs --bounds")
        b = [float(v) for v in args.bounds.split(",")]
        emit_result(run_floor(args.world, (b[0], b[1], b[2], b[3]), args.crs, args.out))


if __name__ == "__main__":
    main()
