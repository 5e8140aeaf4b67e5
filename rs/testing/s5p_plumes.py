"""Seeded scenes for the methane plume tests: one random plume (or none) in a small CH4 swath.

:func:`plume_scene` draws a source near the swath centre, a rate in ``rates`` (t/h), a wind
speed in ``speeds`` (m/s) and a direction uniform over the circle from ``seed``, and returns the
configuration (write it with :func:`rs.testing.s5p.generate_s5p`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from rs.testing.s5p import Plume, S5PConfig

__all__ = ["plume_scene"]


def plume_scene(seed: int, *, with_plume: bool = True, rates: tuple[float, float] = (10, 100),
                speeds: tuple[float, float] = (2.0, 8.0), base: S5PConfig | None = None,
                ) -> S5PConfig:
    """A CH4 swath (80 scanlines x 50 ground pixels, no clouds unless ``base`` says so) with
    one random plume, or none."""
    rng = np.random.default_rng([seed, 808])
    c = base or S5PConfig(product="ch4", n_scanlines=80, n_ground_pixels=50,
                          cloud_fraction=0.0)
    rate = float(rng.uniform(*rates))
    speed = float(rng.uniform(*speeds))
    direction = float(rng.uniform(0.0, 2 * math.pi))
    lon = c.lon + float(rng.uniform(-0.3, 0.3))
    lat = c.lat + float(rng.uniform(-0.3, 0.3))
    plume = Plume(lon, lat, rate, speed * math.cos(direction), speed * math.sin(direction))
    return replace(c, seed=seed, plumes=(plume,) if with_plume else ())
