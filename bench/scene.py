"""The benchmark's data: one synthetic Sentinel-2 world and square areas of it.

The world is generated once under ``bench/_work/`` (``generate_world`` is a no-op when the
configuration is unchanged). Only the parent process imports this module: the measured children
get plain numbers on their command line, so their memory holds nothing but their own work.
An :class:`Area` is a square of the world's 10 m pixel grid, centred on the world; every
variant computes exactly that grid.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import shapely
from pyproj import Transformer
from shapely.geometry import Polygon

from rs.testing import WorldConfig, generate_world

__all__ = [
    "CLOUD_CLASSES",
    "N_DATES",
    "WORLD_PX",
    "Area",
    "centred_area",
    "ensure_world",
    "item_paths",
    "world_config",
]

WORLD_PX = 2048
N_DATES = 24
RES = 10.0
#: SCL classes masked by the demo product: invalid (0, 1), shadow (3), cloud (8, 9), snow (11),
#: the same as rs's default ``mask: [cloud, shadow, snow]`` plus ``invalid``.
CLOUD_CLASSES = (0, 1, 3, 8, 9, 11)
#: The AOI polygon is drawn this far (metres) inside the pixel square, so that snapping the
#: AOI's bounding box outwards to the 10 m grid gives exactly the square.
INSET_M = 1.0


def world_config() -> WorldConfig:
    """The world: 2048 x 2048 px at 10 m, 24 dates over 17 months (both S2 processing
    baselines), default clouds (25 % mean cloud fraction) and default planted events."""
    return WorldConfig(width=WORLD_PX, height=WORLD_PX, n_dates=N_DATES)


def ensure_world(root: Path) -> Path:
    """Generate the world under ``root`` unless it is already there; return ``root``."""
    config = world_config()
    t0 = time.perf_counter()
    print(f"[bench] world {WORLD_PX}x{WORLD_PX} px x {N_DATES} dates at {root} "
          "(generated once, then cached) ...", file=sys.stderr, flush=True)
    generate_world(root, config)
    print(f"[bench] world ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return root


def item_paths(root: Path) -> list[Path]:
    """The item JSON files of the world, in date order (as recorded in ``world.json``)."""
    meta = json.loads((root / "world.json").read_text(encoding="utf-8"))
    return [root / p for p in meta["items"]]


@dataclass(frozen=True)
class Area:
    """A square of ``px`` x ``px`` pixels of the world grid; ``bounds`` in ``crs`` (l, b, r, t)."""

    px: int
    crs: str
    bounds: tuple[float, float, float, float]

    @property
    def name(self) -> str:
        return f"{self.px}px"

    @property
    def shape(self) -> tuple[int, int]:
        return self.px, self.px

    def lonlat_polygon(self) -> Polygon:
        """The square, inset by ``INSET_M``, densified and reprojected to EPSG:4326."""
        left, bottom, right, top = self.bounds
        box = shapely.box(left + INSET_M, bottom + INSET_M, right - INSET_M, top - INSET_M)
        box = shapely.segmentize(box, max_segment_length=RES * 8)
        tr = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        ring = [tr.transform(x, y) for x, y in box.exterior.coords]
        return Polygon(ring)

    def write_geojson(self, path: Path) -> Path:
        """Write the AOI as a GeoJSON FeatureCollection (EPSG:4326) and return ``path``."""
        feature = {
            "type": "Feature",
            "properties": {"name": f"bench_{self.name}"},
            "geometry": shapely.geometry.mapping(self.lonlat_polygon()),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8"
        )
        return path


def centred_area(px: int) -> Area:
    """A ``px`` x ``px`` square centred on the benchmark world."""
    config = world_config()
    if px > WORLD_PX or px % 2:
        raise ValueError(f"area of {px} px must be even and at most {WORLD_PX}")
    x0, y0 = config.origin
    off = (WORLD_PX - px) // 2
    left = x0 + off * RES
    top = y0 - off * RES
    return Area(px, config.crs, (left, top - px * RES, left + px * RES, top))
