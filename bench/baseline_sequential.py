"""Variant (a): the composite as an analyst writes it by hand, with rasterio and numpy only.

For each scene: read red, green, blue, nir and SCL for the window (SCL is 20 m: repeat each pixel
2 x 2), scale DN to reflectance (``DN * 1e-4``, minus 0.1 from processing baseline 04.00 on),
set nodata and cloud / shadow / snow pixels to NaN. Then stack, ``np.nanmedian`` over time, NDVI,
and one GeoTIFF write (tiled, uncompressed, 5 bands). No Dask, one thread of Python.

Run as ``python -m bench.baseline_sequential --world ROOT --bounds L,B,R,T --out FILE``; imports
nothing but numpy, rasterio and the standard library, so its memory is its own.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import rasterio
from rasterio.windows import from_bounds

from bench.harness import emit_result

__all__ = ["composite_sequential", "main"]

BANDS = ("red", "green", "blue", "nir")
MASKED_SCL = (0, 1, 3, 8, 9, 11)


def _path(href: str) -> str:
    return unquote(urlparse(href).path) if href.startswith("file://") else href


def _read(href: str, bounds: tuple[float, float, float, float]) -> np.ndarray:
    with rasterio.open(_path(href)) as src:
        window = from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()
        return src.read(1, window=window)


def composite_sequential(
    items: list[dict[str, Any]], bounds: tuple[float, float, float, float]
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Median composite of ``BANDS`` and NDVI over ``bounds``; also seconds per stage."""
    stacks: dict[str, list[np.ndarray]] = {b: [] for b in BANDS}
    t0 = time.perf_counter()
    for item in items:
        assets = item["assets"]
        baseline = str(item["properties"].get("s2:processing_baseline", "00.00"))
        offset = -0.1 if baseline >= "04.00" else 0.0
        scl = _read(assets["scl"]["href"], bounds)
        scl = np.repeat(np.repeat(scl, 2, axis=0), 2, axis=1)
        bad = np.isin(scl, MASKED_SCL)
        for band in BANDS:
            dn = _read(assets[band]["href"], bounds)
            refl = dn.astype(np.float32) * np.float32(1e-4) + np.float32(offset)
            refl[(dn == 0) | bad] = np.nan
            stacks[band].append(refl)
    t1 = time.perf_counter()
    out: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
        for band in BANDS:
            cube = np.stack(stacks.pop(band))
            out[band] = np.nanmedian(cube, axis=0).astype(np.float32)
            del cube
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ndvi"] = ((out["nir"] - out["red"]) / (out["nir"] + out["red"])).astype(np.float32)
    t2 = time.perf_counter()
    return out, {"read_mask_s": t1 - t0, "median_ndvi_s": t2 - t1}


def _write(path: Path, layers: dict[str, np.ndarray], template_href: str,
           bounds: tuple[float, float, float, float]) -> None:
    with rasterio.open(_path(template_href)) as src:
        window = from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()
        transform = src.window_transform(window)
        crs = src.crs
    first = next(iter(layers.values()))
    profile = {
        "driver": "GTiff",
        "width": first.shape[1],
        "height": first.shape[0],
        "count": len(layers),
        "dtype": "float32",
        "crs": crs,
        "transform": transform,
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack(list(layers.values())))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--bounds", required=True, help="left,bottom,right,top in the world CRS")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    bounds = tuple(float(v) for v in args.bounds.split(","))
    assert len(bounds) == 4
    b4: tuple[float, float, float, float] = (bounds[0], bounds[1], bounds[2], bounds[3])

    t0 = time.perf_counter()
    meta = json.loads((args.world / "world.json").read_text(encoding="utf-8"))
    items = [json.loads((args.world / p).read_text(encoding="utf-8")) for p in meta["items"]]
    layers, stages = composite_sequential(items, b4)
    t1 = time.perf_counter()
    _write(args.out, layers, items[0]["assets"]["red"]["href"], b4)
    t2 = time.perf_counter()
    emit_result({
        "work_s": t2 - t0,
        "stages": {**stages, "write_s": t2 - t1},
        "shape": list(layers["red"].shape),
        "scenes": len(items),
        "ndvi_mean": float(np.nanmean(layers["ndvi"])),
    })


if __name__ == "__main__":
    main()
