"""A seeded demo of methane super-emitters seen by Sentinel-5P (synthetic, known truth).

``generate_ch4_demo(root)`` writes ``n_days`` CH4 orbits in the ESA L2 layout
(:mod:`rs.testing.s5p`, one a day, cloud-free enough to see the plumes) over two point sources
of known rate (t/h) under a known 10 m wind that changes day by day, a wind file
``<root>/wind.csv`` (time, lon, lat, u10, v10) with that wind around each source at each
overpass, and ``<root>/truth.json`` (sources, rates, winds per orbit). The plumes are the
Gaussian plumes of :class:`rs.testing.s5p.Plume`, so the emission rate a method should recover
is exactly the source's rate.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rs.testing.s5p import Plume, S5PConfig, generate_s5p

__all__ = ["SOURCES", "Ch4Demo", "Source", "generate_ch4_demo"]


@dataclass(frozen=True)
class Source:
    """A point source: name, position and emission rate (t/h)."""

    name: str
    lon: float
    lat: float
    rate_t_h: float


#: two coal-mine vents in Shanxi (positions illustrative)
SOURCES = (Source("vent A", 112.45, 37.80, 60.0), Source("vent B", 112.95, 38.25, 35.0))


@dataclass(frozen=True)
class Ch4Demo:
    root: Path
    orbits: tuple[Path, ...]
    wind: Path
    truth: dict[str, object]


def _winds(n_days: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng([seed, 42])
    out = []
    for _ in range(n_days):
        speed, angle = float(rng.uniform(3.0, 7.0)), float(rng.uniform(0, 2 * math.pi))
        out.append((round(speed * math.cos(angle), 3), round(speed * math.sin(angle), 3)))
    return out


def generate_ch4_demo(root: Path | str, *, n_days: int = 4, seed: int = 3) -> Ch4Demo:
    """Write (or find, when ``root/truth.json`` matches) the demo; see the module docstring."""
    root = Path(root)
    meta = {"n_days": n_days, "seed": seed, "sources": [asdict(s) for s in SOURCES],
            "version": 1}
    truth_path = root / "truth.json"
    if truth_path.exists():
        found = json.loads(truth_path.read_text(encoding="utf-8"))
        if found.get("meta") == meta:
            return Ch4Demo(root, tuple(sorted((root / "s5p").glob("*.nc"))), root / "wind.csv",
                           found)
    orbits, rows, days = [], [], []
    lon0 = float(np.mean([s.lon for s in SOURCES]))
    lat0 = float(np.mean([s.lat for s in SOURCES]))
    for d, (u, v) in enumerate(_winds(n_days, seed)):
        start = dt.datetime(2021, 8, 2 + d, 5, 40, tzinfo=dt.UTC)
        plumes = tuple(Plume(s.lon, s.lat, s.rate_t_h, u, v) for s in SOURCES)
        cfg = S5PConfig(product="ch4", lon=lon0, lat=lat0, n_scanlines=90, n_ground_pixels=60,
                        start=start, orbit=19_600 + d, cloud_fraction=0.05, plumes=plumes,
                        seed=seed * 100 + d)
        path, swath = generate_s5p(root / "s5p", cfg)
        orbits.append(path)
        mid = pd.Timestamp(swath.time[len(swath.time) // 2]).tz_localize(None)
        for s in SOURCES:
            for dlon in (-0.5, 0.0, 0.5):
                for dlat in (-0.5, 0.0, 0.5):
                    rows.append({"time": mid.isoformat() + "Z", "lon": s.lon + dlon,
                                 "lat": s.lat + dlat, "u10": u, "v10": v})
        days.append({"orbit": path.name, "u10": u, "v10": v, "overpass": mid.isoformat() + "Z"})
    wind = root / "wind.csv"
    pd.DataFrame(rows).to_csv(wind, index=False)
    truth: dict[str, object] = {"meta": meta, "orbits": days}
    truth_path.write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return Ch4Demo(root, tuple(orbits), wind, truth)
