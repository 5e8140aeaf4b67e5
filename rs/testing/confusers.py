"""Planted changes that are NOT human activity: the confusers of red-line monitoring (issue 7).

- :class:`PhenologyShift` (kind ``phenology``): a crop parcel whose calendar differs between
  years, greener (``variant="greener"``: a poor late single crop before, a full season after) or
  browner (the reverse). Always vegetated: it mixes a dry-stubble spectrum (NDVI about 0.3, NDBI
  about 0) with the crop's peak, never bare soil or a built surface.
- :class:`ThinCloud` (kind ``thin_cloud``): a thin haze patch that the cloud mask does NOT flag,
  present on most dates from ``start_date`` to ``end_date`` (all but about one in five, chosen
  by the name and the date) so it survives a median composite. Surface reflectance is blended
  with the cirrus spectrum at an opacity that falls off over the outer 5 pixels.
- :class:`WaterLevel` (kind ``water_level``): a shore strip of a river or lake whose water level
  moves: ``retreat`` (water before, wet mud after) or ``rise`` (meadow before, flooded vegetation
  after).

Truth rows carry ``human_activity = False`` and ``event_type`` = the kind.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

import numpy as np

from rs.errors import SpecError
from rs.testing._grid import Grid
from rs.testing.activity import Footprint, footprint, name_rng, paint, patch_truth
from rs.testing.events import EventRecord, EventTruth, SceneState, register_event
from rs.testing.landcover import LandCover
from rs.testing.phenology import double_logistic
from rs.testing.spectra import BANDS, CIRRUS_REFLECTANCE, PEAK

__all__ = ["CONFUSER_KINDS", "PhenologyShift", "ThinCloud", "WaterLevel"]

#: the confuser kinds (``event_type`` of their truth rows)
CONFUSER_KINDS: tuple[str, ...] = ("phenology", "thin_cloud", "water_level")

_DRY = np.asarray((0.06, 0.085, 0.10, 0.24, 0.25, 0.17), np.float32)  # stubble, dry leaves
_WET_MUD = np.asarray((0.055, 0.07, 0.08, 0.105, 0.12, 0.085), np.float32)
_FLOODED = np.asarray((0.045, 0.07, 0.045, 0.13, 0.065, 0.04), np.float32)  # reeds in water
_CROP = PEAK[int(LandCover.CROPLAND)]


def _full_season(doy: int) -> float:
    return float(double_logistic(doy, 100, 285, 10, 12))


def _poor_season(doy: int) -> float:
    return 0.45 * float(double_logistic(doy, 165, 250, 8, 8))


@register_event
@dataclass(frozen=True)
class PhenologyShift(EventRecord):
    """A crop parcel (``polygon``, grid CRS metres) whose crop calendar changes on ``start_date``
    (take the 1st of January of the after year): ``greener`` or ``browner`` after."""

    kind: ClassVar[str] = "phenology"
    name: str
    polygon: tuple[tuple[float, float], ...]
    start_date: date
    variant: str = "greener"

    def __post_init__(self) -> None:
        if self.variant not in ("greener", "browner"):
            raise SpecError(f"variant {self.variant!r}: use 'greener' or 'browner'")

    def footprint(self, grid: Grid) -> Footprint:
        return footprint(self.polygon, grid)

    def prepare(self, landcover: np.ndarray, grid: Grid) -> np.ndarray:
        fp = self.footprint(grid)
        out = landcover.copy()
        out[fp.rows, fp.cols][fp.local] = int(LandCover.CROPLAND)
        return out

    def green(self, d: date) -> float:
        """The parcel's green fraction on date ``d``."""
        doy = d.timetuple().tm_yday
        after = d >= self.start_date
        full = after if self.variant == "greener" else not after
        return _full_season(doy) if full else _poor_season(doy)

    def apply(self, state: SceneState, grid: Grid) -> SceneState:
        fp = self.footprint(grid)
        n = int(fp.local.sum())
        if n == 0:
            return state
        g = self.green(state.date)
        tex = name_rng(self.name).normal(1.0, 0.03, n)
        v = (_DRY[:, None] + g * (_CROP - _DRY)[:, None]) * tex
        return paint(state, fp, None, v.astype(np.float32))

    def truth(self, grid: Grid) -> EventTruth:
        return patch_truth(
            self.name, self.kind, False, self.start_date, self.footprint(grid), grid, "cropland"
        )


@register_event
@dataclass(frozen=True)
class ThinCloud(EventRecord):
    """Unmasked thin haze over ``polygon`` (grid CRS metres) on most dates of
    ``start_date``..``end_date``; ``opacity`` is the blend weight of the cirrus spectrum inside
    (tapering to 0 over the outer 5 pixels)."""

    kind: ClassVar[str] = "thin_cloud"
    name: str
    polygon: tuple[tuple[float, float], ...]
    start_date: date
    end_date: date
    opacity: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.opacity < 1.0:
            raise SpecError(f"opacity {self.opacity} must be between 0 and 1")
        if self.end_date < self.start_date:
            raise SpecError(f"end_date {self.end_date} is before start_date {self.start_date}")

    def footprint(self, grid: Grid) -> Footprint:
        return footprint(self.polygon, grid)

    def prepare(self, landcover: np.ndarray, grid: Grid) -> np.ndarray:
        return landcover

    def present(self, d: date) -> bool:
        """Whether the haze is there on date ``d`` (about four dates in five of its span)."""
        if not self.start_date <= d <= self.end_date:
            return False
        return zlib.crc32(f"{self.name}/{d.isoformat()}".encode()) % 5 != 0

    def apply(self, state: SceneState, grid: Grid) -> SceneState:
        fp = self.footprint(grid)
        if not self.present(state.date) or not fp.local.any():
            return state
        from scipy import ndimage

        depth = ndimage.distance_transform_edt(np.pad(fp.local, 1))[1:-1, 1:-1][fp.local]
        alpha = self.opacity * np.clip(depth / 5.0, 0.0, 1.0)
        v = np.stack([state.reflectance[b][fp.rows, fp.cols][fp.local] for b in BANDS])
        v = v * (1 - alpha) + alpha * CIRRUS_REFLECTANCE[:, None]
        return paint(state, fp, None, v.astype(np.float32))

    def truth(self, grid: Grid) -> EventTruth:
        return patch_truth(
            self.name, self.kind, False, self.start_date, self.footprint(grid), grid, ""
        )


@register_event
@dataclass(frozen=True)
class WaterLevel(EventRecord):
    """A shore strip (``polygon``, grid CRS metres) where the water level moves on
    ``start_date``: ``retreat`` (water -> wet mud) or ``rise`` (meadow -> flooded vegetation)."""

    kind: ClassVar[str] = "water_level"
    name: str
    polygon: tuple[tuple[float, float], ...]
    start_date: date
    direction: str = "retreat"

    def __post_init__(self) -> None:
        if self.direction not in ("retreat", "rise"):
            raise SpecError(f"direction {self.direction!r}: use 'retreat' or 'rise'")

    def footprint(self, grid: Grid) -> Footprint:
        return footprint(self.polygon, grid)

    def prepare(self, landcover: np.ndarray, grid: Grid) -> np.ndarray:
        fp = self.footprint(grid)
        out = landcover.copy()
        before = LandCover.WATER if self.direction == "retreat" else LandCover.GRASSLAND
        out[fp.rows, fp.cols][fp.local] = int(before)
        return out

    def apply(self, state: SceneState, grid: Grid) -> SceneState:
        fp = self.footprint(grid)
        n = int(fp.local.sum())
        if state.date < self.start_date or n == 0:
            return state
        retreat = self.direction == "retreat"
        spec = _WET_MUD if retreat else _FLOODED
        cls = LandCover.BARE_SOIL if retreat else LandCover.WATER
        v = spec[:, None] * name_rng(self.name).normal(1.0, 0.04, n)
        return paint(state, fp, int(cls), v.astype(np.float32))

    def truth(self, grid: Grid) -> EventTruth:
        before = "water" if self.direction == "retreat" else "grassland"
        return patch_truth(
            self.name, self.kind, False, self.start_date, self.footprint(grid), grid, before
        )
