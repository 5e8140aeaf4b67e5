"""Planted events with ground truth: things that happen to the landscape on a known date.

An event is a small frozen object that (1) may edit the static land cover before anything happens
(``prepare``), (2) edits the clear-sky state of each date (``apply``), and (3) reports its ground
truth (``truth``): vector rows in EPSG:4326 and, when it has one, a mask on the 10 m grid.
Events serialise to plain dicts (``to_dict`` / :func:`event_from_dict`) so a world's configuration
can be cached in ``world.json``. New kinds (construction, mining, roads, moving coastline, TROPOMI
plumes, stations) register themselves with :func:`register_event`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
import shapely
from rasterio import features

from rs.errors import SpecError
from rs.testing._grid import Grid
from rs.testing.landcover import LandCover

__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventTruth",
    "SceneState",
    "VegetationLoss",
    "default_events",
    "event_from_dict",
    "register_event",
]

Renderer = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class SceneState:
    """Clear-sky state of the world on one date (10 m grid, noise-free).

    ``render`` turns a land-cover map into reflectance with this date's phenology and the world's
    texture; :meth:`with_landcover` uses it so events that change land cover get consistent spectra.
    """

    date: date
    landcover: np.ndarray
    reflectance: Mapping[str, np.ndarray]
    render: Renderer = field(repr=False, compare=False)

    def with_landcover(self, landcover: np.ndarray) -> SceneState:
        """A new state whose changed pixels are re-rendered (unchanged pixels keep their values, so
        reflectance edits of earlier events survive)."""
        changed = landcover != self.landcover
        fresh = self.render(landcover)
        refl = {b: np.where(changed, fresh[b], v) for b, v in self.reflectance.items()}
        return replace(self, landcover=landcover, reflectance=refl)


@dataclass(frozen=True)
class EventTruth:
    """Ground truth of one event: ``rows`` (dicts with at least event_type, start_date, area_m2 and
    a shapely ``geometry`` in EPSG:4326) and an optional boolean ``mask`` on the 10 m grid."""

    rows: list[dict[str, Any]]
    mask: np.ndarray | None = None


@runtime_checkable
class Event(Protocol):
    """What the world needs from a planted event."""

    kind: ClassVar[str]

    @property
    def name(self) -> str: ...

    @property
    def start_date(self) -> date: ...

    def prepare(self, landcover: np.ndarray, grid: Grid) -> np.ndarray: ...

    def apply(self, state: SceneState, grid: Grid) -> SceneState: ...

    def truth(self, grid: Grid) -> EventTruth: ...

    def to_dict(self) -> dict[str, Any]: ...


EVENT_TYPES: dict[str, Callable[[Mapping[str, Any]], Event]] = {}

_E = TypeVar("_E")


#: how :class:`EventRecord` reads each field type (the annotations, as written) back
_POLYGON = "tuple[tuple[float, float], ...]"
_DECODE: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "date": lambda v: date.fromisoformat(str(v)),
    _POLYGON: lambda v: tuple((float(x), float(y)) for x, y in v),
}


class EventRecord:
    """``to_dict`` / ``from_dict`` of a frozen dataclass event from its fields: ``kind``, then
    every field in order (dates as ISO text, polygons as lists of [x, y]); a missing field takes
    its default. Field types are those of :data:`_DECODE`."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = (v.isoformat() if isinstance(v, date)
                           else [list(p) for p in v] if f.type == _POLYGON else v)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        kw = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in d:
                kw[f.name] = _DECODE[str(f.type)](d[f.name])
            elif f.default is dataclasses.MISSING:
                raise SpecError(f"a {cls.kind!r} event needs {f.name!r}, got {sorted(d)}")
        return cls(**kw)


def register_event(cls: type[_E]) -> type[_E]:
    """Class decorator: make ``cls`` loadable by :func:`event_from_dict` under ``cls.kind``."""
    EVENT_TYPES[cls.kind] = cls.from_dict  # type: ignore[attr-defined]
    return cls


def event_from_dict(d: Mapping[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.to_dict` output."""
    kind = d.get("kind")
    if kind not in EVENT_TYPES:
        raise SpecError(f"unknown event kind {kind!r}; known kinds: {sorted(EVENT_TYPES)}")
    return EVENT_TYPES[str(kind)](d)


def _mask_geometry(mask: np.ndarray, grid: Grid) -> shapely.Geometry:
    """The exact pixel outline of ``mask`` (grid CRS)."""
    from rs.change import class_polygons

    return shapely.union_all(class_polygons(mask.astype(np.uint8), grid.transform(), [1])[1])


# irregular outline of a planted patch: radius multipliers at 12 equally spaced bearings
_BLOB = (1.0, 0.85, 1.1, 0.95, 0.8, 1.05, 0.9, 1.15, 0.95, 0.85, 1.0, 0.9)


@register_event
@dataclass(frozen=True)
class VegetationLoss(EventRecord):
    """A forest / cropland / grassland patch cleared to bare soil from ``start_date`` on.

    ``polygon`` is the outline in the grid CRS (metres); pixels whose centre lies inside are the
    patch. Before ``start_date`` the patch is ``from_class`` (planted by :meth:`prepare`), from
    ``start_date`` it is ``to_class``.
    """

    kind: ClassVar[str] = "vegetation_loss"
    name: str
    polygon: tuple[tuple[float, float], ...]
    start_date: date
    from_class: int = int(LandCover.FOREST)
    to_class: int = int(LandCover.BARE_SOIL)

    def __post_init__(self) -> None:
        vegetated = {LandCover.FOREST, LandCover.CROPLAND, LandCover.GRASSLAND}
        if self.from_class not in vegetated:
            raise SpecError(f"from_class must be a vegetated class {sorted(vegetated)}")
        if len(self.polygon) < 3:
            raise SpecError("polygon needs at least 3 vertices")

    @classmethod
    def blob(
        cls,
        grid: Grid,
        name: str,
        centre: tuple[float, float],
        radius: tuple[float, float],
        start_date: date,
        from_class: int = int(LandCover.FOREST),
    ) -> VegetationLoss:
        """An irregular patch at fractional ``centre`` (0..1 of width, height) with fractional
        ``radius`` (x, y)."""
        cx, cy = grid.xy(*centre)
        rx, ry = radius[0] * grid.width * grid.res, radius[1] * grid.height * grid.res
        pts = tuple(
            (
                round(cx + k * rx * math.cos(2 * math.pi * i / len(_BLOB)), 2),
                round(cy + k * ry * math.sin(2 * math.pi * i / len(_BLOB)), 2),
            )
            for i, k in enumerate(_BLOB)
        )
        return cls(name=name, polygon=pts, start_date=start_date, from_class=from_class)

    def mask(self, grid: Grid) -> np.ndarray:
        """Boolean patch mask on the 10 m grid."""
        return features.rasterize(
            [shapely.Polygon(self.polygon)],
            out_shape=grid.shape(),
            transform=grid.transform(),
            fill=0,
            default_value=1,
            dtype="uint8",
        ).astype(bool)

    def prepare(self, landcover: np.ndarray, grid: Grid) -> np.ndarray:
        out = landcover.copy()
        out[self.mask(grid)] = self.from_class
        return out

    def apply(self, state: SceneState, grid: Grid) -> SceneState:
        if state.date < self.start_date:
            return state
        lc = state.landcover.copy()
        lc[self.mask(grid)] = self.to_class
        return state.with_landcover(lc)

    def truth(self, grid: Grid) -> EventTruth:
        m = self.mask(grid)
        geom = grid.to_lonlat(_mask_geometry(m, grid)) if m.any() else shapely.Polygon()
        row = {
            "event_id": self.name,
            "event_type": self.kind,
            "start_date": self.start_date.isoformat(),
            "from_class": LandCover(self.from_class).name.lower(),
            "area_m2": float(m.sum() * grid.res**2),
            "geometry": geom,
        }
        return EventTruth(rows=[row], mask=m)


def default_events(grid: Grid, start: date, end: date) -> tuple[Event, ...]:
    """The default world's events: a forest clearance inside the Fushan red line (see
    :func:`rs.testing.demo_aois`, on the default grid) and a cropland clearance outside every
    protected area, at 40 % and 62 % of the period."""
    span = (end - start).days
    return (
        VegetationLoss.blob(
            grid,
            "veg_loss_redline",
            (0.27, 0.30),
            (0.045, 0.035),
            date.fromordinal(start.toordinal() + round(0.40 * span)),
        ),
        VegetationLoss.blob(
            grid,
            "veg_loss_outside",
            (0.68, 0.86),
            (0.04, 0.03),
            date.fromordinal(start.toordinal() + round(0.62 * span)),
            from_class=int(LandCover.CROPLAND),
        ),
    )
