"""Configuration of a synthetic world: a frozen, JSON-serialisable dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from rs.errors import SpecError
from rs.testing._grid import DEFAULT_GRID, Grid
from rs.testing.events import Event, default_events, event_from_dict

__all__ = ["OVERPASS_UTC", "WorldConfig"]

#: ~10:50 local solar time at 118.7 E
OVERPASS_UTC = time(2, 52, 31)


@dataclass(frozen=True)
class WorldConfig:
    """Parameters of a synthetic world; equal configs give byte-identical worlds.

    ``events=None`` plants :func:`rs.testing.events.default_events`; pass ``()`` for none.
    ``cloudiness`` is the mean cloud fraction of a scene (0 = always clear).
    """

    seed: int = 42
    width: int = DEFAULT_GRID.width
    height: int = DEFAULT_GRID.height
    origin: tuple[float, float] = (DEFAULT_GRID.x0, DEFAULT_GRID.y0)
    crs: str = DEFAULT_GRID.crs
    start_date: date = date(2021, 5, 1)
    end_date: date = date(2022, 9, 30)
    n_dates: int = 12
    cloudiness: float = 0.25
    events: tuple[Event, ...] | None = None

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64 or self.width % 2 or self.height % 2:
            raise SpecError(
                f"world size {self.width}x{self.height}: use even sizes of at least 64 px "
                "(20 m bands are half the 10 m pixel count)"
            )
        if self.n_dates < 1:
            raise SpecError("n_dates must be at least 1")
        if self.end_date <= self.start_date:
            raise SpecError(f"end_date {self.end_date} must be after start_date {self.start_date}")
        if not 0.0 <= self.cloudiness <= 1.0:
            raise SpecError(f"cloudiness {self.cloudiness} must be between 0 and 1")
        if not self.crs.startswith("EPSG:326"):
            raise SpecError(f"crs {self.crs}: the world needs a UTM north CRS (EPSG:326xx)")

    @property
    def grid(self) -> Grid:
        return Grid(self.crs, float(self.origin[0]), float(self.origin[1]), self.width, self.height)

    def resolved_events(self) -> tuple[Event, ...]:
        if self.events is None:
            return default_events(self.grid, self.start_date, self.end_date)
        return tuple(self.events)

    def datetimes(self) -> list[datetime]:
        """Acquisition times: ``n_dates`` days spread evenly from start to end, at the overpass."""
        span = (self.end_date - self.start_date).days
        offsets = np.linspace(0, span, self.n_dates) if self.n_dates > 1 else np.zeros(1)
        return [
            datetime.combine(self.start_date + timedelta(days=round(float(o))), OVERPASS_UTC, UTC)
            for o in offsets
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "width": self.width,
            "height": self.height,
            "origin": [float(self.origin[0]), float(self.origin[1])],
            "crs": self.crs,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "n_dates": self.n_dates,
            "cloudiness": float(self.cloudiness),
            "events": None if self.events is None else [e.to_dict() for e in self.events],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorldConfig:
        events = d.get("events")
        return cls(
            seed=int(d["seed"]),
            width=int(d["width"]),
            height=int(d["height"]),
            origin=(float(d["origin"][0]), float(d["origin"][1])),
            crs=str(d["crs"]),
            start_date=date.fromisoformat(d["start_date"]),
            end_date=date.fromisoformat(d["end_date"]),
            n_dates=int(d["n_dates"]),
            cloudiness=float(d["cloudiness"]),
            events=None if events is None else tuple(event_from_dict(e) for e in events),
        )
