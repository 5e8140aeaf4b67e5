"""Demo areas of interest inside the default world: the demo region and protected areas.

The polygons are defined on the default grid (docs/contracts.md) in fractional positions and
reprojected to EPSG:4326, rounded to 1e-7 degrees (about 1 cm). The committed files
``aoi/demo_region.geojson`` and ``aoi/demo_redlines.geojson`` are written by
:func:`write_demo_aois` and tested to stay equal to :func:`demo_aois`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.polygon import orient

from rs.testing._grid import DEFAULT_GRID, Grid

__all__ = ["DemoAois", "demo_aois", "write_demo_aois"]

#: the government level that designated each demo protected area
_LEVEL = {
    "Fushan Forest Ecological Red Line": "national",
    "Laoshan Hills Ecological Red Line": "provincial",
    "Qinhuai River Wetland Nature Reserve": "provincial",
}

_WOBBLE = (1.0, 0.92, 1.06, 0.97, 1.1, 0.9, 1.02, 1.08, 0.95, 0.88, 1.04, 0.98, 1.07, 0.93)


class DemoAois(NamedTuple):
    region: gpd.GeoDataFrame
    """The demo region (column ``name``)."""
    redlines: gpd.GeoDataFrame
    """Ecological protection red lines and nature-reserve zones (``name``, ``level``: the
    approving government, ``national`` or ``provincial``; ``zone``; ``kind``)."""


def _ring(grid: Grid, centre: tuple[float, float], radius: tuple[float, float]) -> np.ndarray:
    cx, cy = grid.xy(*centre)
    rx, ry = radius[0] * grid.width * grid.res, radius[1] * grid.height * grid.res
    n = len(_WOBBLE)
    return np.array(
        [
            (cx + k * rx * math.cos(a), cy + k * ry * math.sin(a))
            for k, a in zip(_WOBBLE, np.linspace(0, 2 * math.pi, n, endpoint=False), strict=True)
        ]
    )


def _to_lonlat(grid: Grid, geom: shapely.Geometry) -> shapely.Geometry:
    g = grid.to_lonlat(orient(geom, sign=1.0))
    return shapely.transform(g, lambda c: np.round(c, 7))


def demo_aois() -> DemoAois:
    """The demo region and the protected areas of the default world (EPSG:4326)."""
    g = DEFAULT_GRID
    region = shapely.Polygon(
        [
            g.xy(fx, fy)
            for fx, fy in (
                (0.05, 0.06),
                (0.5, 0.04),
                (0.95, 0.08),
                (0.96, 0.55),
                (0.93, 0.95),
                (0.45, 0.96),
                (0.06, 0.93),
                (0.04, 0.5),
            )
        ]
    )
    core = _ring(g, (0.80, 0.60), (0.05, 0.035))
    buffer = _ring(g, (0.80, 0.60), (0.09, 0.06))
    experimental = _ring(g, (0.80, 0.60), (0.13, 0.09))
    reserve = "Qinhuai River Wetland Nature Reserve"
    # (name, zone, kind, polygon); the level of each protected area is in _LEVEL
    rows = [
        (
            "Fushan Forest Ecological Red Line",
            "core",
            "red_line",
            shapely.Polygon(_ring(g, (0.25, 0.30), (0.14, 0.13))),
        ),
        (
            "Laoshan Hills Ecological Red Line",
            "core",
            "red_line",
            shapely.Polygon(_ring(g, (0.13, 0.78), (0.07, 0.08))),
        ),
        (reserve, "core", "nature_reserve", shapely.Polygon(core)),
        (reserve, "buffer", "nature_reserve", shapely.Polygon(buffer, holes=[core])),
        (reserve, "experimental", "nature_reserve", shapely.Polygon(experimental, holes=[buffer])),
    ]
    redlines = gpd.GeoDataFrame(
        {
            "name": [r[0] for r in rows],
            "level": [_LEVEL[r[0]] for r in rows],
            "zone": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
        },
        geometry=[_to_lonlat(g, r[3]) for r in rows],
        crs="EPSG:4326",
    )
    region_gdf = gpd.GeoDataFrame(
        {"name": ["rs demo region (Jiangning, Nanjing)"]},
        geometry=[_to_lonlat(g, region)],
        crs="EPSG:4326",
    )
    return DemoAois(region=region_gdf, redlines=redlines)


def write_demo_aois(directory: Path | str) -> tuple[Path, Path]:
    """Write ``demo_region.geojson`` and ``demo_redlines.geojson`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    aois = demo_aois()
    out = []
    for name, gdf in (("demo_region", aois.region), ("demo_redlines", aois.redlines)):
        path = directory / f"{name}.geojson"
        tmp = directory / f".{name}.geojson.tmp"
        gdf.to_file(tmp, driver="GeoJSON", layer=name)
        os.replace(tmp, path)
        out.append(path)
    return out[0], out[1]
