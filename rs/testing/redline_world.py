"""The red-line demo world (issue 7): planted human activity and confusers in and around the demo
protected areas, seen by Sentinel-2 in two summer periods.

:func:`redline_events` lays out, seeded by ``layout_seed``, :data:`PER_TYPE` patches of every
activity type (:class:`~rs.testing.activity.HumanActivity`): per type two inside one protected
polygon (one zone), one across a boundary (a red line's edge or the reserve's zone boundary, in
turn by type) and three outside every protected area; plus the confusers of
:mod:`rs.testing.confusers` (phenology, thin cloud, water level), none overlapping another
(at least :data:`GAP_M` apart). Event names say the design: ``<type>_<k>_<placement>``.

:func:`redline_world_config` is the :class:`~rs.testing.WorldConfig` (61 dates from 2021-07-15
to 2022-10-05, 10 in each period of :data:`REDLINE_PERIODS`, on the same days of the year). The
periods are mid-July to September, when rice, the forest and the grass are near their peak: over
April-September the wheat harvest and rice transplanting make a cropland pixel's median composite
depend on which dates were clear (and on the sensor noise), and whole parcels then differ between
the years by up to 0.3 in an index without any planted change;
:func:`generate_redline_world` writes it; :func:`redline_truth` is the truth table with each
row's actual ``placement`` and the ``protected`` areas it touches. The demo is ``seed=42``,
``layout_seed=0`` (``embedded: redline-demo``); train on other layout seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from scipy import ndimage
from shapely import affinity
from shapely.geometry.base import BaseGeometry

from rs.errors import SpecError
from rs.testing._grid import DEFAULT_GRID, Grid
from rs.testing.activity import ACTIVITY_TYPES, HumanActivity
from rs.testing.aois import demo_aois
from rs.testing.config import WorldConfig
from rs.testing.confusers import PhenologyShift, ThinCloud, WaterLevel
from rs.testing.events import Event
from rs.testing.landcover import LandCover, generate_landscape
from rs.testing.world import World, generate_world

__all__ = [
    "DEMO_LAYOUT_SEED",
    "DEMO_SEED",
    "GAP_M",
    "PER_TYPE",
    "REDLINE_PERIODS",
    "generate_redline_world",
    "redline_events",
    "redline_truth",
    "redline_world_config",
]

#: the two periods the red-line product compares (inclusive); every event starts between them
REDLINE_PERIODS: dict[str, tuple[date, date]] = {
    "before": (date(2021, 7, 15), date(2021, 9, 20)),
    "after": (date(2022, 7, 15), date(2022, 9, 20)),
}
#: the world's acquisitions: 61 dates evenly spaced (about 7.3 days apart) from the start of the
#: before period, so that both periods hold 10 dates on the same days of the year
_DATES = (date(2021, 7, 15), date(2022, 10, 5), 61)
DEMO_SEED = 42
DEMO_LAYOUT_SEED = 0
#: patches per activity type, and their designed placements
PER_TYPE = 6
_PLACEMENTS = ("inside", "inside", "boundary", "outside", "outside", "outside")
#: minimum distance between any two planted patches (metres)
GAP_M = 60.0
#: the before-state land cover of the k-th patch of each type (cycled)
_BEFORE: dict[str, tuple[LandCover, ...]] = {
    "construction": (LandCover.CROPLAND, LandCover.GRASSLAND),
    "mining": (LandCover.FOREST, LandCover.GRASSLAND),
    "road": (LandCover.GRASSLAND, LandCover.CROPLAND, LandCover.FOREST),
    "farmland_reclamation": (LandCover.FOREST, LandCover.GRASSLAND),
    "water_engineering": (LandCover.CROPLAND, LandCover.GRASSLAND),
    "vegetation_loss": (LandCover.FOREST, LandCover.FOREST, LandCover.GRASSLAND),
}
_EVENT_WINDOW = (date(2021, 10, 1), date(2022, 6, 30))


def _rect(rng: np.random.Generator, w: tuple[float, float], h: tuple[float, float],
          turn: float) -> BaseGeometry:
    g = shapely.box(0, 0, rng.uniform(*w), rng.uniform(*h))
    g = affinity.translate(g, -g.centroid.x, -g.centroid.y)
    return affinity.rotate(g, rng.uniform(-turn, turn), origin=(0, 0))


def _blob(rng: np.random.Generator, r: tuple[float, float]) -> BaseGeometry:
    radius, aspect, n = rng.uniform(*r), rng.uniform(0.7, 1.3), 14
    k = rng.uniform(0.7, 1.3, n)
    a = np.linspace(0, 2 * math.pi, n, endpoint=False) + rng.uniform(0, 2 * math.pi)
    return shapely.Polygon(np.column_stack([k * radius * aspect * np.cos(a),
                                            k * radius / aspect * np.sin(a)]))


def _strip(rng: np.random.Generator, length: tuple[float, float],
           width: tuple[float, float]) -> BaseGeometry:
    size, th = rng.uniform(*length), rng.uniform(0, math.pi)
    bend = th + math.radians(rng.uniform(-25, 25))
    p1 = (0.0, 0.0)
    p0 = (-0.5 * size * math.cos(th), -0.5 * size * math.sin(th))
    p2 = (0.5 * size * math.cos(bend), 0.5 * size * math.sin(bend))
    line = shapely.LineString([p0, p1, p2])
    return line.buffer(rng.uniform(*width) / 2, cap_style="flat", join_style="mitre")


def _shape(activity: str, k: int, rng: np.random.Generator) -> BaseGeometry:
    """A type-typical outline around (0, 0), metres."""
    if activity == "construction":
        return _rect(rng, (55, 110), (50, 90), 25)
    if activity == "mining":
        return _blob(rng, (45, 100))
    if activity == "road":
        return _strip(rng, (350, 750), (22, 36))
    if activity == "farmland_reclamation":
        return _rect(rng, (160, 260), (120, 190), 12)
    if activity == "water_engineering":
        return _strip(rng, (250, 450), (30, 40)) if k == 0 else _rect(rng, (60, 140), (50, 110), 15)
    return _blob(rng, (40, 95))


class _Layout:
    """Rejection sampling of non-overlapping shapes in designed places (grid CRS)."""

    def __init__(self, grid: Grid, seed: int, layout_seed: int) -> None:
        self.grid = grid
        self.rng = np.random.default_rng([20260707, layout_seed])
        red = demo_aois().redlines.to_crs(grid.crs)
        region = demo_aois().region.to_crs(grid.crs).geometry.iloc[0]
        self.region = region.buffer(-100)
        self.zones = list(red.geometry)
        self.protected = shapely.union_all(self.zones)
        self.reserve = shapely.union_all(list(red[red["kind"] == "nature_reserve"].geometry))
        self.lines = list(red[red["kind"] == "red_line"].geometry)
        lc = generate_landscape(grid, seed).landcover
        self.landcover = lc
        self.taken: list[BaseGeometry] = []

    def _pixels(self, g: BaseGeometry) -> np.ndarray:
        from rs.testing.activity import footprint

        fp = footprint(tuple(g.exterior.coords), self.grid)
        return self.landcover[fp.rows, fp.cols][fp.local]

    def _placed(self, g: BaseGeometry, placement: str) -> bool:
        """Whether ``g`` lies where ``placement`` says (relative to the protected areas)."""
        if placement == "inside":
            return any(z.buffer(-10).contains(g) for z in self.zones)
        if placement == "outside":
            return bool(g.distance(self.protected) >= 60)
        if placement == "zone_boundary":
            return bool(self.reserve.buffer(-10).contains(g)) and (
                sum(z.intersects(g) for z in self.zones) >= 2
            )
        inside = g.intersection(self.protected).area / g.area
        return 0.3 <= inside <= 0.7 and any(z.intersects(g) for z in self.lines)

    def fits(self, g: BaseGeometry, placement: str, vegetated: bool = False) -> bool:
        if not g.is_valid or not self.region.contains(g):
            return False
        if any(g.distance(t) < GAP_M for t in self.taken) or not self._placed(g, placement):
            return False
        px = self._pixels(g)
        if px.size * self.grid.res**2 < 3000:
            return False
        if vegetated:  # haze is a confuser over vegetation (>= 90 % of the pixels)
            green = (LandCover.FOREST, LandCover.CROPLAND, LandCover.GRASSLAND)
            return bool(np.isin(px, green).mean() >= 0.9)
        return not (px == LandCover.WATER).any()

    def place(self, make: Callable[[], BaseGeometry], placement: str,
              vegetated: bool = False) -> BaseGeometry:
        """Try shapes from ``make()`` at random spots until one fits ``placement``."""
        if placement == "inside" or placement.endswith("boundary"):
            target = self.reserve if placement == "zone_boundary" else self.protected
            box = target.buffer(150).bounds
        else:
            box = self.region.bounds
        for _ in range(20000):
            g = make()
            x, y = self.rng.uniform(box[0], box[2]), self.rng.uniform(box[1], box[3])
            g = shapely.set_precision(affinity.translate(g, x, y), 0.01)
            if self.fits(g, placement, vegetated):
                self.taken.append(g)
                return g
        raise SpecError(f"could not place a {placement} patch; try another layout_seed")


def _start(rng: np.random.Generator) -> date:
    span = (_EVENT_WINDOW[1] - _EVENT_WINDOW[0]).days
    return _EVENT_WINDOW[0] + timedelta(days=int(rng.integers(0, span + 1)))


def _coords(g: BaseGeometry) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in g.exterior.coords[:-1])


def _shore_strips(lay: _Layout, n: int) -> list[tuple[BaseGeometry, str]]:
    """Strips 3 px wide along the river's north or south bank, 300-500 m long."""
    from rs.change import class_polygons

    water = lay.landcover == LandCover.WATER
    lab, _ = ndimage.label(water)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    river = lab == int(np.argmax(sizes))
    h, w = river.shape
    rows = np.arange(h)[:, None]
    top = np.where(river.any(0), np.argmax(river, 0), -1)
    bottom = np.where(river.any(0), h - 1 - np.argmax(river[::-1], 0), -1)
    out: list[tuple[BaseGeometry, str]] = []
    for k in range(n):
        direction = ("retreat", "rise")[k % 2]
        for _ in range(400):
            length = int(lay.rng.integers(30, 51))
            c0 = int(lay.rng.integers(10, w - 10 - length))
            cols = np.arange(c0, c0 + length)
            north = bool(lay.rng.random() < 0.5)
            edge = top[cols] if north else bottom[cols]
            if (edge < 0).any():
                continue
            step = 1 if north else -1  # into the water
            lo = edge if direction == "retreat" else edge - 3 * step
            r0 = np.minimum(lo, lo + 2 * step)
            mask = np.zeros_like(river)
            sel = (rows >= r0[None, :]) & (rows <= r0[None, :] + 2)
            mask[:, cols] = sel
            want = river if direction == "retreat" else ~water
            if not (mask <= want).all():
                continue
            polys = class_polygons(mask.astype(np.uint8), lay.grid.transform(), [1])[1]
            g = max(polys, key=lambda p: p.area)
            if g.interiors or not lay.region.contains(g):
                continue
            if any(g.distance(t) < GAP_M for t in lay.taken):
                continue
            lay.taken.append(g)
            out.append((g, direction))
            break
        else:
            raise SpecError("could not place a water-level strip; try another layout_seed")
    return out


def redline_events(
    grid: Grid = DEFAULT_GRID, layout_seed: int = DEMO_LAYOUT_SEED, seed: int = DEMO_SEED
) -> tuple[Event, ...]:
    """The planted patches and confusers of the red-line world (``seed``: the world seed whose
    river and lakes the layout avoids or, for water-level confusers, follows)."""
    if grid != DEFAULT_GRID:
        raise SpecError("the red-line layout is defined on the default grid (the demo AOIs)")
    lay = _Layout(grid, seed, layout_seed)
    events: list[Event] = []
    # water-level strips first (they must follow the river), then the largest shapes
    after0, after1 = REDLINE_PERIODS["after"]
    for k, (g, direction) in enumerate(_shore_strips(lay, 4)):
        events.append(WaterLevel(f"water_level_{k}", _coords(g), _start(lay.rng), direction))
    order = ("farmland_reclamation", "road", "mining", "water_engineering", "construction",
             "vegetation_loss")
    for t, activity in enumerate(order):
        for k, placement in enumerate(_PLACEMENTS):
            if placement == "boundary":
                placement = ("redline_boundary", "zone_boundary")[t % 2]

            def make(a: str = activity, i: int = k) -> BaseGeometry:
                return _shape(a, i, lay.rng)

            g = lay.place(make, placement)
            before = _BEFORE[activity][k % len(_BEFORE[activity])]
            events.append(HumanActivity(f"{activity}_{k}_{placement}", activity, _coords(g),
                                        _start(lay.rng), int(before)))
    for k in range(4):
        g = lay.place(lambda: _rect(lay.rng, (110, 200), (100, 170), 10),
                      "inside" if k == 0 else "outside")
        events.append(PhenologyShift(f"phenology_{k}", _coords(g), date(2022, 1, 1),
                                     ("greener", "browner")[k % 2]))
    for k in range(3):
        g = lay.place(lambda: _blob(lay.rng, (90, 150)), "inside" if k == 0 else "outside",
                      vegetated=True)
        events.append(ThinCloud(f"thin_cloud_{k}", _coords(g), after0, after1))
    assert set(ACTIVITY_TYPES) == set(order)
    return tuple(events)


def redline_world_config(
    seed: int = DEMO_SEED, layout_seed: int = DEMO_LAYOUT_SEED, cloudiness: float = 0.2
) -> WorldConfig:
    """The red-line world: the default grid, 61 dates 2021-07-15..2022-10-05 (10 in each period
    of :data:`REDLINE_PERIODS`, on the same days of the year), :func:`redline_events` planted."""
    return WorldConfig(
        seed=seed,
        start_date=_DATES[0],
        end_date=_DATES[1],
        n_dates=_DATES[2],
        cloudiness=cloudiness,
        events=redline_events(DEFAULT_GRID, layout_seed, seed),
    )


def generate_redline_world(root: Path | str, config: WorldConfig | None = None) -> World:
    """Write the red-line world (default: the demo, :func:`redline_world_config`) under ``root``;
    a no-op when ``root`` already holds the same configuration."""
    return generate_world(root, config or redline_world_config())


def redline_truth(config: WorldConfig | None = None) -> gpd.GeoDataFrame:
    """Every planted patch and confuser (EPSG:4326): event_id, event_type (the activity type or
    the confuser kind), human_activity, start_date, from_class, area_m2, geometry, and
    ``placement`` (inside / zone_boundary / redline_boundary / outside, measured) and
    ``protected`` (names of the protected areas it touches, ``;``-joined)."""
    config = config or redline_world_config()
    gdf, _ = World(Path("."), config).truth()
    red = demo_aois().redlines
    zones = red.to_crs(config.crs)
    local = gdf.to_crs(config.crs)
    placement, names = [], []
    for g in local.geometry:
        hit = zones[zones.intersects(g) & (zones.intersection(g).area > 1.0)]
        names.append(";".join(dict.fromkeys(hit["name"])))
        if hit.empty:
            placement.append("outside")
        elif any(z.buffer(0.01).contains(g) for z in hit.geometry):
            placement.append("inside")
        elif shapely.union_all(list(zones.geometry)).buffer(0.01).contains(g):
            placement.append("zone_boundary")
        else:
            placement.append("redline_boundary")
    gdf["placement"] = placement
    gdf["protected"] = names
    return gdf
