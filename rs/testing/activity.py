"""Planted human activity with type-typical shapes and after-states (issue 7, red-line monitoring).

:class:`HumanActivity` (event kind ``human_activity``) turns a vegetated patch into the after-state
of one activity type of :data:`rs.change.typing_model.TYPES` from ``start_date`` on:

- ``construction``: roofs (bright concrete, grey and blue colour-steel sheets) in a compact
  rectangle, with concrete yards and a little bare ground; high visible and SWIR, low NDVI;
- ``mining``: an irregular bright spoil heap (bare, high SWIR) around a dark wet pit;
- ``road``: a long thin strip of fresh concrete or asphalt (2-4 pixels wide);
- ``farmland_reclamation``: a large regular field of forest / grass turned to tilled soil with
  a sparse young crop greening from August;
- ``water_engineering``: a dug pond, reservoir or channel (land -> turbid water);
- ``vegetation_loss``: an irregular clearing of forest to bare soil with sparse grass.

Before ``start_date`` the patch is ``from_class`` (planted by :meth:`HumanActivity.prepare`). The
per-pixel pattern inside a patch (which pixel is roof, pit or soil) is seeded by the event name, so
an event renders identically in any process. Truth rows carry ``human_activity = True``; the
confusers of :mod:`rs.testing.confusers` carry ``False``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import ClassVar

import numpy as np
import shapely
from affine import Affine
from rasterio import features

from rs.change.typing_model import TYPES
from rs.errors import SpecError
from rs.testing._grid import Grid
from rs.testing.events import EventRecord, EventTruth, SceneState, register_event
from rs.testing.landcover import LandCover
from rs.testing.phenology import double_logistic
from rs.testing.spectra import BANDS, PEAK

__all__ = [
    "ACTIVITY_TYPES",
    "AFTER_CLASS",
    "Footprint",
    "HumanActivity",
    "footprint",
    "patch_truth",
]

#: the human-activity types (those the typing model knows)
ACTIVITY_TYPES: tuple[str, ...] = TYPES

#: land-cover class of each type's after-state (what the SCL and the land-cover truth show)
AFTER_CLASS: dict[str, int] = {
    "construction": int(LandCover.BUILT_UP),
    "mining": int(LandCover.BARE_SOIL),
    "road": int(LandCover.BUILT_UP),
    "farmland_reclamation": int(LandCover.CROPLAND),
    "water_engineering": int(LandCover.WATER),
    "vegetation_loss": int(LandCover.BARE_SOIL),
}

#: default before-state class of each type
_FROM_CLASS: dict[str, int] = {
    "construction": int(LandCover.CROPLAND),
    "mining": int(LandCover.FOREST),
    "road": int(LandCover.GRASSLAND),
    "farmland_reclamation": int(LandCover.FOREST),
    "water_engineering": int(LandCover.GRASSLAND),
    "vegetation_loss": int(LandCover.FOREST),
}

# surface reflectance of the after-state materials, in BANDS order (blue .. swir22)
_S = {
    "roof_concrete": (0.22, 0.24, 0.26, 0.30, 0.35, 0.31),
    "roof_grey": (0.17, 0.18, 0.19, 0.22, 0.27, 0.25),
    "roof_blue": (0.21, 0.18, 0.13, 0.17, 0.20, 0.17),
    "yard_concrete": (0.16, 0.18, 0.20, 0.24, 0.30, 0.27),
    "site_soil": (0.12, 0.15, 0.19, 0.24, 0.32, 0.28),
    "spoil": (0.15, 0.19, 0.25, 0.30, 0.41, 0.37),
    "spoil_dark": (0.12, 0.15, 0.20, 0.25, 0.36, 0.33),
    "wet_pit": (0.05, 0.06, 0.065, 0.075, 0.07, 0.05),
    "concrete_road": (0.15, 0.17, 0.19, 0.22, 0.28, 0.26),
    "asphalt": (0.075, 0.085, 0.095, 0.115, 0.15, 0.14),
    "tilled_soil": (0.08, 0.11, 0.15, 0.21, 0.30, 0.25),
    "turbid_water": (0.07, 0.09, 0.075, 0.04, 0.025, 0.018),
    "bare_soil": (0.10, 0.14, 0.19, 0.25, 0.33, 0.28),
    "sparse_grass": (0.06, 0.085, 0.08, 0.26, 0.28, 0.19),
}
_SPEC = {k: np.asarray(v, dtype=np.float32) for k, v in _S.items()}
_CROP_PEAK = PEAK[int(LandCover.CROPLAND)]


@dataclass(frozen=True)
class Footprint:
    """Where a polygon falls on the grid: the window (row/col slices) around it and the boolean
    mask of pixels whose centre lies inside, within that window."""

    rows: slice
    cols: slice
    local: np.ndarray

    def full(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, dtype=bool)
        out[self.rows, self.cols] = self.local
        return out


@lru_cache(maxsize=512)
def footprint(polygon: tuple[tuple[float, float], ...], grid: Grid) -> Footprint:
    """The :class:`Footprint` of ``polygon`` (grid CRS metres) on ``grid`` (cached)."""
    geom = shapely.Polygon(polygon)
    left, bottom, right, top = geom.bounds
    c0 = max(0, int(np.floor((left - grid.x0) / grid.res)))
    c1 = min(grid.width, int(np.ceil((right - grid.x0) / grid.res)) + 1)
    r0 = max(0, int(np.floor((grid.y0 - top) / grid.res)))
    r1 = min(grid.height, int(np.ceil((grid.y0 - bottom) / grid.res)) + 1)
    if c1 <= c0 or r1 <= r0:
        return Footprint(slice(0, 0), slice(0, 0), np.zeros((0, 0), bool))
    tr = grid.transform() @ Affine.translation(c0, r0)
    local = features.rasterize(
        [geom], out_shape=(r1 - r0, c1 - c0), transform=tr, fill=0, default_value=1, dtype="uint8"
    ).astype(bool)
    local.setflags(write=False)
    return Footprint(slice(r0, r1), slice(c0, c1), local)


def name_rng(name: str, *keys: int) -> np.random.Generator:
    """A generator seeded by an event's name (stable across processes, unlike ``hash``)."""
    return np.random.default_rng([zlib.crc32(name.encode("utf-8")), *keys])


def paint(
    state: SceneState,
    fp: Footprint,
    landcover: int | None,
    values: np.ndarray,
) -> SceneState:
    """A new state whose pixels in ``fp`` get reflectance ``values`` (bands x n_pixels, in
    :data:`BANDS` order) and, unless None, the land-cover class ``landcover``."""
    lc = state.landcover
    if landcover is not None:
        lc = lc.copy()
        lc[fp.rows, fp.cols][fp.local] = landcover
    refl = {}
    for b, name in enumerate(BANDS):
        arr = np.array(state.reflectance[name], copy=True)
        win = arr[fp.rows, fp.cols]
        win[fp.local] = values[b]
        refl[name] = arr
    return replace(state, landcover=lc, reflectance=refl)


def patch_truth(
    name: str,
    event_type: str,
    human_activity: bool,
    start: date,
    fp: Footprint,
    grid: Grid,
    from_class: str,
) -> EventTruth:
    """One truth row (EPSG:4326 pixel outline of the footprint) and the 10 m mask."""
    from rs.change import class_polygons

    m = fp.full(grid.shape())
    if m.any():
        geom = grid.to_lonlat(
            shapely.union_all(class_polygons(m.astype(np.uint8), grid.transform(), [1])[1])
        )
    else:
        geom = shapely.Polygon()
    row = {
        "event_id": name,
        "event_type": event_type,
        "human_activity": human_activity,
        "start_date": start.isoformat(),
        "from_class": from_class,
        "area_m2": float(m.sum() * grid.res**2),
        "geometry": geom,
    }
    return EventTruth(rows=[row], mask=m)


def _mix(parts: dict[str, float], rng: np.random.Generator, n: int) -> np.ndarray:
    """Per pixel one material drawn with probabilities ``parts`` (bands x n)."""
    names = list(parts)
    p = np.asarray([parts[k] for k in names], dtype=np.float64)
    pick = rng.choice(len(names), size=n, p=p / p.sum())
    table = np.stack([_SPEC[k] for k in names])
    return table[pick].T


def _local_coords(fp: Footprint) -> tuple[np.ndarray, np.ndarray]:
    rr, cc = np.nonzero(fp.local)
    return rr.astype(np.float64), cc.astype(np.float64)


def _construction(fp: Footprint, rng: np.random.Generator) -> np.ndarray:
    """Buildings in rows (blocks of 3 x 4 px roofs of one material each) between concrete yards."""
    rr, cc = _local_coords(fp)
    n = rr.size
    out = _mix({"yard_concrete": 0.75, "site_soil": 0.25}, rng, n)
    roofs = ("roof_concrete", "roof_grey", "roof_blue")
    bi, bj = (rr // 4).astype(int), (cc // 5).astype(int)
    inner = (rr % 4 < 3) & (cc % 5 < 4)  # a roof of 3 x 4 px in each 4 x 5 cell
    material = rng.integers(0, len(roofs), size=(int(bi.max()) + 1, int(bj.max()) + 1))
    for k, roof in enumerate(roofs):
        sel = inner & (material[bi, bj] == k)
        out[:, sel] = _SPEC[roof][:, None]
    return out


def _mining(fp: Footprint, rng: np.random.Generator) -> np.ndarray:
    """Spoil around a dark wet pit in the part farthest from the patch edge."""
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(np.pad(fp.local, 1))[1:-1, 1:-1][fp.local]
    n = depth.size
    out = _mix({"spoil": 0.6, "spoil_dark": 0.4}, rng, n)
    pit = depth >= np.quantile(depth, 0.75)
    out[:, pit] = _SPEC["wet_pit"][:, None]
    return out


def _road(fp: Footprint, rng: np.random.Generator) -> np.ndarray:
    """All concrete or all asphalt (chosen by the name), with a few bare verge pixels."""
    surface = "concrete_road" if rng.random() < 0.6 else "asphalt"
    return _mix({surface: 0.9, "site_soil": 0.1}, rng, int(fp.local.sum()))


def _farmland(fp: Footprint, rng: np.random.Generator, doy: int) -> np.ndarray:
    """Tilled soil of a new field with a sparse young crop greening from August (its first
    season: at most a third of the pixel green)."""
    g = 0.35 * float(double_logistic(doy, 215, 330, 8, 10))
    n = int(fp.local.sum())
    soil = np.broadcast_to(_SPEC["tilled_soil"][:, None], (len(BANDS), n))
    row_g = np.clip(g * rng.normal(1.0, 0.1, n), 0, 1)
    return soil + row_g * (_CROP_PEAK[:, None] - soil)


def _water(fp: Footprint, rng: np.random.Generator) -> np.ndarray:
    return np.broadcast_to(_SPEC["turbid_water"][:, None], (len(BANDS), int(fp.local.sum())))


def _vegetation_loss(fp: Footprint, rng: np.random.Generator, doy: int) -> np.ndarray:
    """Bare soil with sparse grass (up to a third of a pixel) greening in the summer."""
    n = int(fp.local.sum())
    cover = rng.uniform(0.0, 0.35, n) * (0.3 + 0.7 * float(double_logistic(doy, 110, 290, 12, 14)))
    soil, grass = _SPEC["bare_soil"][:, None], _SPEC["sparse_grass"][:, None]
    return soil + cover * (grass - soil)


@register_event
@dataclass(frozen=True)
class HumanActivity(EventRecord):
    """A patch of human activity of type ``activity`` (one of :data:`ACTIVITY_TYPES`).

    ``polygon`` is the outline in the grid CRS (metres); pixels whose centre lies inside are the
    patch. Before ``start_date`` the patch is ``from_class`` (default: typical for the type);
    from ``start_date`` it shows the type's after-state.
    """

    kind: ClassVar[str] = "human_activity"
    name: str
    activity: str
    polygon: tuple[tuple[float, float], ...]
    start_date: date
    from_class: int = 0

    def __post_init__(self) -> None:
        if self.activity not in ACTIVITY_TYPES:
            raise SpecError(f"activity {self.activity!r}: use one of {list(ACTIVITY_TYPES)}")
        if len(self.polygon) < 3:
            raise SpecError("polygon needs at least 3 vertices")
        if self.from_class == 0:
            object.__setattr__(self, "from_class", _FROM_CLASS[self.activity])
        vegetated = {LandCover.FOREST, LandCover.CROPLAND, LandCover.GRASSLAND}
        if self.from_class not in vegetated:
            raise SpecError(f"from_class must be a vegetated class {sorted(vegetated)}")

    def footprint(self, grid: Grid) -> Footprint:
        return footprint(self.polygon, grid)

    def mask(self, grid: Grid) -> np.ndarray:
        """Boolean patch mask on the 10 m grid."""
        return self.footprint(grid).full(grid.shape())

    def prepare(self, landcover: np.ndarray, grid: Grid) -> np.ndarray:
        fp = self.footprint(grid)
        out = landcover.copy()
        out[fp.rows, fp.cols][fp.local] = self.from_class
        return out

    def after_state(self, grid: Grid, doy: int) -> np.ndarray:
        """Reflectance of the patch's pixels after the event (bands x pixels, float32)."""
        fp = self.footprint(grid)
        rng = name_rng(self.name)
        if not fp.local.any():
            return np.zeros((len(BANDS), 0), np.float32)
        a = self.activity
        if a == "construction":
            v = _construction(fp, rng)
        elif a == "mining":
            v = _mining(fp, rng)
        elif a == "road":
            v = _road(fp, rng)
        elif a == "farmland_reclamation":
            v = _farmland(fp, rng, doy)
        elif a == "water_engineering":
            v = _water(fp, rng)
        else:
            v = _vegetation_loss(fp, rng, doy)
        # within-patch texture (3 %) times a brightness of the whole patch (materials, moisture)
        texture = name_rng(self.name, 1).normal(1.0, 0.03, v.shape[1])
        texture *= name_rng(self.name, 2).uniform(0.93, 1.07)
        return (v * texture).astype(np.float32)

    def apply(self, state: SceneState, grid: Grid) -> SceneState:
        if state.date < self.start_date:
            return state
        fp = self.footprint(grid)
        if not fp.local.any():
            return state
        doy = state.date.timetuple().tm_yday
        return paint(state, fp, AFTER_CLASS[self.activity], self.after_state(grid, doy))

    def truth(self, grid: Grid) -> EventTruth:
        return patch_truth(
            self.name,
            self.activity,
            True,
            self.start_date,
            self.footprint(grid),
            grid,
            LandCover(self.from_class).name.lower(),
        )
