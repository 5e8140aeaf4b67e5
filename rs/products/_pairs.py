"""What products reading earlier steps' rasters share: the windows of a grid, and the two
published layers of a before/after pair on one projected grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rs.export.raster import GridSpec
    from rs.pipeline.context import StepContext, Upstream

__all__ = ["Pair", "before_after", "windows"]


def windows(shape: tuple[int, int], block: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """``(row, col, height, width)`` of every block of a ``shape`` grid, row by row."""
    h, w = shape
    by, bx = block
    return [(r, c, min(by, h - r), min(bx, w - c))
            for r in range(0, h, by) for c in range(0, w, bx)]


@dataclass(frozen=True)
class Pair:
    """The ``before`` and ``after`` files of one layer, their upstream outputs and their grid."""

    before: Upstream
    after: Upstream
    before_path: Path
    after_path: Path
    grid: GridSpec
    bands: int


def before_after(ctx: StepContext, layer: str, *, projected: bool = True) -> Pair:
    """``layer`` of the upstream roles ``before`` and ``after`` (one period each), refusing
    (:class:`~rs.errors.SpecError`) two grids or band counts, and with ``projected`` a
    geographic grid (areas in m² need metres)."""
    from pyproj import CRS

    from rs.errors import SpecError
    from rs.load.outputs import raster_info

    spec = ctx.spec
    (before,) = ctx.upstream["before"]
    (after,) = ctx.upstream["after"]
    pa, pb = before.asset(layer), after.asset(layer)
    grid, n_bands = raster_info(pa)
    if (grid, n_bands) != raster_info(pb):
        raise SpecError(
            f"step {spec.id!r}: {spec.before} and {spec.after} are on different grids; give both "
            "steps the same crs and resolution (and the same AOI)"
        )
    if projected and CRS.from_user_input(grid.crs).is_geographic:
        raise SpecError(
            f"step {spec.id!r}: {layer} is on a geographic grid ({grid.crs}); areas in m² "
            "need a projected crs for the upstream steps"
        )
    return Pair(before, after, pa, pb, grid, n_bands)
