"""Configuration of the synthetic Landsat world (rs.testing.landsat): grid, constants, planted
trends and :class:`LandsatWorldConfig`."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import time
from typing import Any

import numpy as np
import shapely

from rs.errors import SpecError
from rs.testing._grid import Grid
from rs.testing.landcover import LandCover

GENERATOR_VERSION = "1"
LANDSAT_GRID = Grid("EPSG:32650", 659985.0, 3552015.0, 172, 172, res=30.0)
OVERPASS_UTC = time(2, 36, 12)
NDVI_SOIL = 0.12
NOISE_SR = 0.005
NOISE_ST = 0.4
SOIL_REFLECTANCE = {"blue": 0.10, "green": 0.13, "swir16": 0.32, "swir22": 0.27}
VEGETATED = (LandCover.FOREST, LandCover.CROPLAND, LandCover.GRASSLAND)
BASE_COVER = {LandCover.FOREST: 0.90, LandCover.CROPLAND: 0.95, LandCover.GRASSLAND: 0.80}
#: surface temperature (K) per class, dormant and at peak greenness
T_DORMANT = np.array([0, 299, 307, 311, 312, 316, 319], dtype=np.float64)
T_PEAK = np.array([0, 299, 301, 302, 304, 316, 319], dtype=np.float64)
T_SOIL = 319.0
CLOUD_TEMPERATURE = 270.0
SHADOW_COOLING = 4.0
_COVER, _THERMAL, _NOISE = 21, 22, 24  # rng purposes


@dataclass(frozen=True)
class PlantedTrend:
    """A region (polygon vertices in the grid CRS, metres) of ``landcover`` whose vegetation
    fraction is ``start + rate * (year - first_year)``."""

    name: str
    polygon: tuple[tuple[float, float], ...]
    landcover: int
    start: float
    rate: float

    @property
    def geometry(self) -> shapely.Polygon:
        return shapely.Polygon(self.polygon)


_WOBBLE = (1.0, 0.92, 1.06, 0.97, 1.1, 0.9, 1.02, 1.08, 0.95, 0.88, 1.04, 0.98, 1.07, 0.93)


def _blob(
    grid: Grid, centre: tuple[float, float], radius: tuple[float, float]
) -> tuple[tuple[float, float], ...]:
    cx, cy = grid.xy(*centre)
    rx, ry = radius[0] * grid.width * grid.res, radius[1] * grid.height * grid.res
    angles = np.linspace(0, 2 * math.pi, len(_WOBBLE), endpoint=False)
    return tuple(
        (round(cx + k * rx * math.cos(a), 2), round(cy + k * ry * math.sin(a), 2))
        for k, a in zip(_WOBBLE, angles, strict=True)
    )


def default_trends(grid: Grid) -> tuple[PlantedTrend, ...]:
    """Forest degradation in the Fushan red line (25 %, 30 % of the grid) and grassland recovery
    in the north-east (70 %, 22 %)."""
    return (
        PlantedTrend("degradation", _blob(grid, (0.25, 0.30), (0.075, 0.065)), 2, 0.95, -0.08),
        PlantedTrend("recovery", _blob(grid, (0.70, 0.22), (0.06, 0.05)), 4, 0.25, 0.10),
    )


@dataclass(frozen=True)
class LandsatWorldConfig:
    """Parameters of the synthetic Landsat world; equal configs give byte-identical worlds.

    ``trends=None`` plants :func:`default_trends`; ``fill_scenes`` are scene indices whose
    south-east corner is fill; ``cloudy_share`` is the share of scenes with clouds, each covering
    4 % to ``max_cloud`` of the scene.
    """

    seed: int = 42
    width: int = LANDSAT_GRID.width
    height: int = LANDSAT_GRID.height
    origin: tuple[float, float] = (LANDSAT_GRID.x0, LANDSAT_GRID.y0)
    crs: str = LANDSAT_GRID.crs
    first_year: int = 2018
    n_years: int = 6
    doys: tuple[int, ...] = (212, 220, 244, 252)
    cloudy_share: float = 0.5
    max_cloud: float = 0.35
    fill_scenes: tuple[int, ...] = (13,)
    trends: tuple[PlantedTrend, ...] | None = None

    def __post_init__(self) -> None:
        if self.width < 32 or self.height < 32:
            raise SpecError(f"world size {self.width}x{self.height}: use at least 32 x 32 px")
        if any(round(v - 15) % 30 for v in self.origin):
            raise SpecError(
                f"origin {self.origin}: Landsat pixel edges sit at 15 m (mod 30 m) in UTM"
            )
        if not self.crs.startswith("EPSG:326"):
            raise SpecError(f"crs {self.crs}: the world needs a UTM north CRS (EPSG:326xx)")
        if self.n_years < 2:
            raise SpecError("n_years must be at least 2 (a trend needs two seasons)")
        if not self.doys or list(self.doys) != sorted(set(self.doys)) or self.doys[-1] > 365:
            raise SpecError(f"doys {self.doys}: give increasing days of the year (1..365)")
        if not (0 <= self.cloudy_share <= 1 and 0.04 <= self.max_cloud <= 0.9):
            raise SpecError("cloudy_share must be in 0..1 and max_cloud in 0.04..0.9")
        bad = [i for i in self.fill_scenes if not 0 <= i < self.n_years * len(self.doys)]
        if bad:
            raise SpecError(f"fill_scenes {bad} are not scene indices of this world")
        for t in self.trends or ():
            end = t.start + t.rate * (self.n_years - 1)
            if not (0 <= t.start <= 1 and 0 <= end <= 1):
                raise SpecError(f"trend {t.name!r}: vegetation fraction leaves 0..1 ({end:.3f})")
            if t.landcover not in VEGETATED:
                raise SpecError(f"trend {t.name!r}: landcover must be forest/cropland/grassland")

    @property
    def grid(self) -> Grid:
        x0, y0 = self.origin
        return Grid(self.crs, float(x0), float(y0), self.width, self.height, res=30.0)

    def resolved_trends(self) -> tuple[PlantedTrend, ...]:
        return default_trends(self.grid) if self.trends is None else tuple(self.trends)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists); :meth:`from_dict` reverses it."""
        out: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LandsatWorldConfig:
        kw = {k: _tuples(v) for k, v in d.items()}
        if kw.get("trends") is not None:
            kw["trends"] = tuple(PlantedTrend(**t) for t in kw["trends"])
        return cls(**kw)


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


