"""Block planning: which scenes each output block needs, and deterministic task keys (pure).

A product is computed as one task per output block (a tile of the output grid). Planning gives
every tile the indices of the scenes whose footprint intersects it, so a block task is handed a
short tuple of indices into one shared list of scenes instead of the whole list, and names its
task with a key derived from its inputs (the same inputs give the same key in any process).

Footprints are lon/lat (EPSG:4326) geometries, as in STAC items. Each tile's outline is
densified (``_segments_per_edge`` points per edge), projected to EPSG:4326 in one vectorised
transform and split at the antimeridian when it crosses it; one shapely ``STRtree`` over the
footprints answers all tile queries at once, so 1,000 footprints x 400 tiles plan in
milliseconds. The test is shapely's ``intersects`` (closed sets: a footprint touching a tile's
edge is listed for it). Tiles no footprint reaches are returned too (``items=()``): a product
still writes nodata there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import shapely
from dask.base import tokenize
from odc.geo.geobox import GeoBox, GeoboxTiles
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from rs._geom import WORLD, footprints_of, split_or_world

# WORLD and footprints_of live in rs._geom (readers use them without importing the pipeline)
__all__ = ["WORLD", "PlannedBlock", "footprints_of", "plan_blocks", "task_key", "tile_outlines"]

_LONLAT = CRS.from_epsg(4326)


@dataclass(frozen=True)
class PlannedBlock:
    """One output block: tile index, pixel offset, geobox, and the scenes that reach it."""

    iy: int
    ix: int
    row: int  # pixel offset of the tile in the output grid
    col: int
    tile: GeoBox
    items: tuple[int, ...]  # indices into the footprints sequence, ascending


def _segments_per_edge(block: tuple[int, int]) -> int:
    """Points inserted per tile edge before projecting: 1 per 32 px, between 4 and 64."""
    return int(min(64, max(4, math.ceil(max(block) / 32))))


def _ring_pixels(r0: np.ndarray, r1: np.ndarray, c0: np.ndarray, c1: np.ndarray, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Densified closed-ring pixel coordinates (col, row) of n boxes: two (n, 4k + 1) arrays."""
    t = np.linspace(0.0, 1.0, k, endpoint=False)[None, :]
    c0, c1, r0, r1 = (a.astype(float)[:, None] for a in (c0, c1, r0, r1))
    cols = np.concatenate(
        [c0 + (c1 - c0) * t, np.broadcast_to(c1, (c1.shape[0], k)), c1 - (c1 - c0) * t,
         np.broadcast_to(c0, (c0.shape[0], k)), c0], axis=1)
    rows = np.concatenate(
        [np.broadcast_to(r0, (r0.shape[0], k)), r0 + (r1 - r0) * t,
         np.broadcast_to(r1, (r1.shape[0], k)), r1 - (r1 - r0) * t, r0], axis=1)
    return cols, rows


def tile_outlines(geobox: GeoBox, block: tuple[int, int]) -> np.ndarray:
    """Outlines in EPSG:4326 of the tiles of ``geobox`` (row-major), as a shapely array.

    Each tile's edges are densified before projecting; an outline crossing the antimeridian is
    split there; one that cannot be projected (outside the CRS's area) is the whole world, so
    that planning never drops a scene it cannot place.
    """
    by, bx = block
    ny, nx = math.ceil(geobox.shape.y / by), math.ceil(geobox.shape.x / bx)
    iy, ix = np.divmod(np.arange(ny * nx), nx)
    r0, c0 = iy * by, ix * bx
    r1, c1 = np.minimum(r0 + by, geobox.shape.y), np.minimum(c0 + bx, geobox.shape.x)
    cols, rows = _ring_pixels(r0, r1, c0, c1, _segments_per_edge(block))
    a = geobox.affine
    x = a.a * cols + a.b * rows + a.c
    y = a.d * cols + a.e * rows + a.f
    if geobox.crs is None:
        raise ValueError("the output geobox has no CRS; give the grid a CRS to plan blocks")
    crs = geobox.crs.proj
    if not crs.equals(_LONLAT):
        to_ll = Transformer.from_crs(crs, _LONLAT, always_xy=True)
        x, y = to_ll.transform(x, y, errcheck=False)
        x, y = np.asarray(x), np.asarray(y)
    outlines = shapely.polygons(np.stack([x, y], axis=-1))
    bad = ~np.isfinite(x).all(axis=1) | ~np.isfinite(y).all(axis=1)
    outlines[bad] = WORLD
    across = ~bad & (np.abs(np.diff(x, axis=1)) > 180.0).any(axis=1)
    for n in np.flatnonzero(across):
        outlines[n] = split_or_world(outlines[n])
    invalid = ~bad & ~shapely.is_valid(outlines)
    outlines[invalid] = shapely.make_valid(outlines[invalid])
    return outlines


def plan_blocks(
    geobox: GeoBox, footprints: Sequence[BaseGeometry | None], block: tuple[int, int]
) -> list[PlannedBlock]:
    """Tile ``geobox`` into ``block`` = (rows, cols) tiles and list the footprints reaching each.

    Returns every tile in row-major order (``iy`` then ``ix``), the last row and column of
    tiles cropped to the grid. ``items`` of a tile holds, ascending, the index of every
    footprint (EPSG:4326) that intersects the tile's outline (see :func:`tile_outlines`); a
    tile no footprint reaches has ``items=()``. A footprint of ``None`` (unknown, as for a
    swath file before it is read) reaches every tile.
    """
    by, bx = (int(v) for v in block)
    if by < 1 or bx < 1:
        raise ValueError(f"block must be two positive sizes (rows, cols), got {block!r}")
    tiles = GeoboxTiles(geobox, (by, bx))
    ny, nx = tiles.shape
    found: list[list[int]] = [[] for _ in range(ny * nx)]
    if len(footprints):
        geoms = np.asarray([WORLD if f is None else f for f in footprints], dtype=object)
        invalid = ~shapely.is_valid(geoms)
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        tree = shapely.STRtree(geoms)
        tile_n, item_n = tree.query(tile_outlines(geobox, (by, bx)), predicate="intersects")
        for t, i in sorted(zip(tile_n.tolist(), item_n.tolist(), strict=True)):
            found[t].append(i)
    return [
        PlannedBlock(
            iy, ix, iy * by, ix * bx, cast(GeoBox, tiles[iy, ix]), tuple(found[iy * nx + ix])
        )
        for iy in range(ny)
        for ix in range(nx)
    ]


def task_key(prefix: str, *parts: Any) -> str:
    """A deterministic Dask key: ``f"{prefix}-{dask.base.tokenize(*parts)}"``.

    ``parts`` must tokenize deterministically (plain data, tuples, GeoBoxes, frozen
    dataclasses of those): for an object dask can only hash at random it raises
    ``dask.tokenize.TokenizationError`` (a ``RuntimeError``) instead of giving a key that
    changes from run to run.
    """
    return f"{prefix}-{tokenize(*parts, ensure_deterministic=True)}"
