"""The seeded synthetic Sentinel-2 L2A world: configuration, pure truth functions, and the writer.

``generate_world(root)`` writes, per date, seven COGs and a pystac Item JSON under
``<root>/sentinel-2-l2a/<item_id>/`` (docs/contracts.md), ground truth under ``<root>/truth/`` and a
``<root>/world.json`` that makes the call a no-op next time with the same configuration.
Everything the files contain can be recomputed in memory from :class:`World` without reading them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pystac

from rs.errors import SourceError
from rs.testing._cog import write_cog
from rs.testing._grid import Grid, block_mean, block_repeat
from rs.testing._noise import rng_for
from rs.testing.clouds import CloudScene, apply_clouds, generate_clouds
from rs.testing.config import WorldConfig
from rs.testing.events import Event, SceneState
from rs.testing.landcover import LandCover, LandscapeBase, generate_landscape
from rs.testing.phenology import green_fraction
from rs.testing.sentinel2 import (
    COLLECTION,
    S2_BANDS,
    build_item,
    encode_dn,
    item_id,
    processing_baseline,
)
from rs.testing.spectra import render

__all__ = [
    "GENERATOR_VERSION",
    "NOISE_SIGMA",
    "World",
    "WorldConfig",
    "generate_world",
    "inner_bbox",
    "load_world",
]

#: bump when the generator's output changes, so cached worlds are rebuilt
GENERATOR_VERSION = "1"
#: standard deviation of the Gaussian sensor noise, in reflectance
NOISE_SIGMA = 0.005
_NOISE_PURPOSE = 3
EVENT_COLUMNS = ["event_id", "event_type", "start_date", "from_class", "area_m2"]

T = TypeVar("T")


class _Memo:
    """A tiny per-instance LRU cache keyed by date index (bounded memory for large worlds)."""

    def __init__(self, size: int = 3) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, make: Callable[[], T]) -> T:
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        value = make()
        self.data[key] = value
        if len(self.data) > self.size:
            self.data.popitem(last=False)
        return value


@dataclass(eq=False)
class World:
    """A synthetic world: where its files are, and the pure functions that compute their content.

    All arrays are recomputed deterministically from the configuration (nothing is read back from
    disk); 10 m arrays have shape ``(height, width)``, 20 m arrays half of that.
    """

    root: Path
    config: WorldConfig
    _memo: _Memo = field(default_factory=_Memo, repr=False)

    # --- layout -----------------------------------------------------------------------------
    @property
    def grid(self) -> Grid:
        return self.config.grid

    @cached_property
    def events(self) -> tuple[Event, ...]:
        return self.config.resolved_events()

    @cached_property
    def datetimes(self) -> list[datetime]:
        return self.config.datetimes()

    @property
    def n_dates(self) -> int:
        return len(self.datetimes)

    @cached_property
    def item_ids(self) -> list[str]:
        return [item_id(t.date(), self.grid) for t in self.datetimes]

    def processing_baseline(self, i: int) -> str:
        return processing_baseline(self.datetimes[i].date())

    def item_dir(self, i: int) -> Path:
        return self.root / COLLECTION / self.item_ids[i]

    def item_path(self, i: int) -> Path:
        """Path of the pystac Item JSON of date ``i``."""
        return self.item_dir(i) / f"{self.item_ids[i]}.json"

    def band_path(self, i: int, key: str) -> Path:
        return self.item_dir(i) / f"{key}.tif"

    def item_paths(self) -> list[Path]:
        return [self.item_path(i) for i in range(self.n_dates)]

    def items(self) -> list[pystac.Item]:
        """The written items, read back with pystac."""
        return [pystac.Item.from_file(str(p)) for p in self.item_paths()]

    # --- pure truth -------------------------------------------------------------------------
    @cached_property
    def landscape(self) -> LandscapeBase:
        """The static landscape with every event's ``prepare`` applied (before any event date)."""
        base = generate_landscape(self.grid, self.config.seed)
        lc = base.landcover
        for ev in self.events:
            lc = ev.prepare(lc, self.grid)
        return LandscapeBase(lc, base.crop_shift, base.double_crop, base.texture, base.parcel)

    def state(self, i: int) -> SceneState:
        """Clear-sky state of date ``i`` after all events (10 m, noise-free)."""
        return self._memo.get(("state", i), lambda: self._state(i))

    def _state(self, i: int) -> SceneState:
        d = self.datetimes[i].date()
        doy = d.timetuple().tm_yday
        ls = self.landscape

        def rend(lc: np.ndarray) -> dict[str, np.ndarray]:
            return render(lc, green_fraction(lc, doy, ls.crop_shift, ls.double_crop), ls.texture)

        st = SceneState(date=d, landcover=ls.landcover, reflectance=rend(ls.landcover), render=rend)
        for ev in self.events:
            st = ev.apply(st, self.grid)
        return st

    def landcover(self, i: int) -> np.ndarray:
        """Land-cover classes (:class:`LandCover`) on date ``i`` (10 m)."""
        return self.state(i).landcover

    def clear_reflectance(self, i: int, resolution: int = 10) -> dict[str, np.ndarray]:
        """Clear-sky, noise-free surface reflectance of every band on date ``i``, on the 10 m
        grid, or 2 x 2 block means on the 20 m grid with ``resolution=20``."""
        f = self.grid.factor(resolution)
        return {b: block_mean(v, f) for b, v in self.state(i).reflectance.items()}

    def clouds(self, i: int) -> CloudScene:
        return self._memo.get(
            ("clouds", i),
            lambda: generate_clouds(self.grid, self.config.seed, i, self.config.cloudiness),
        )

    def _mask(self, m20: np.ndarray, resolution: int) -> np.ndarray:
        return block_repeat(m20, 2) if self.grid.factor(resolution) == 1 else m20

    def cloud_mask(self, i: int, resolution: int = 10) -> np.ndarray:
        """Pixels flagged cloud (SCL 8, 9) or thin cirrus (SCL 10) on date ``i``."""
        c = self.clouds(i)
        return self._mask(c.cloud20 | c.cirrus20, resolution)

    def cirrus_mask(self, i: int, resolution: int = 10) -> np.ndarray:
        return self._mask(self.clouds(i).cirrus20, resolution)

    def shadow_mask(self, i: int, resolution: int = 10) -> np.ndarray:
        """Cloud-shadow pixels (SCL 3) on date ``i``."""
        return self._mask(self.clouds(i).shadow20, resolution)

    def observed_reflectance(self, i: int) -> dict[str, np.ndarray]:
        """What the files hold before DN encoding: clouds, shadows and sensor noise included, each
        band at its native resolution (10 m or 20 m)."""
        return self._memo.get(("observed", i), lambda: self._observed(i))

    def _observed(self, i: int) -> dict[str, np.ndarray]:
        seen = apply_clouds(self.state(i).reflectance, self.clouds(i))
        out = {}
        for k, b in enumerate(S2_BANDS):
            if b.is_scl:
                continue
            v = block_mean(seen[b.key], self.grid.factor(b.res))
            noise = rng_for(self.config.seed, _NOISE_PURPOSE, i, k).normal(0, NOISE_SIGMA, v.shape)
            out[b.key] = (v + noise).astype(np.float32)
        return out

    def scl(self, i: int) -> np.ndarray:
        """Scene classification (uint8, 20 m): 6 water, 4 vegetation (NDVI > 0.35), 5 other land,
        then 3 cloud shadow, 10 thin cirrus, 8 / 9 medium / high probability cloud on top."""
        lc = self.landcover(i)
        water = block_mean((lc == LandCover.WATER).astype(np.float32), 2) >= 0.5
        refl = self.clear_reflectance(i, resolution=20)
        red, nir = refl["red"], refl["nir"]
        ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
        out = np.where(water, 6, np.where(ndvi > 0.35, 4, 5)).astype(np.uint8)
        c = self.clouds(i)
        out[c.shadow20] = 3
        out[c.cirrus20] = 10
        out[c.cloud20] = 8
        out[c.high20] = 9
        return out

    def cloud_cover(self, i: int) -> float:
        """``eo:cloud_cover``: percent of SCL pixels that are cloud or cirrus (8, 9, 10)."""
        return round(100.0 * float(np.isin(self.scl(i), (8, 9, 10)).mean()), 4)

    def truth(self) -> tuple[gpd.GeoDataFrame, dict[str, np.ndarray]]:
        """Event ground truth: one row per event (EPSG:4326) and a union mask per event kind."""
        rows: list[dict[str, Any]] = []
        masks: dict[str, np.ndarray] = {"vegetation_loss": np.zeros(self.grid.shape(), bool)}
        for ev in self.events:
            t = ev.truth(self.grid)
            rows.extend(t.rows)
            if t.mask is not None:
                masks[ev.kind] = masks.get(ev.kind, np.zeros_like(t.mask)) | t.mask
        if rows:
            gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        else:
            gdf = gpd.GeoDataFrame({c: [] for c in EVENT_COLUMNS}, geometry=[], crs="EPSG:4326")
        return gdf, masks

    # --- writing ----------------------------------------------------------------------------
    def _write_scene(self, i: int) -> None:
        baseline = self.processing_baseline(i)
        observed = self.observed_reflectance(i)
        hrefs: dict[str, Path] = {}
        for b in S2_BANDS:
            path = self.band_path(i, b.key)
            tr = self.grid.transform(b.res)
            if b.is_scl:
                write_cog(path, self.scl(i), tr, self.grid.crs, nodata=0, resampling="nearest")
            else:
                write_cog(path, encode_dn(observed[b.key], baseline), tr, self.grid.crs, nodata=0)
            hrefs[b.key] = path
        item = build_item(self.grid, self.datetimes[i], self.cloud_cover(i), hrefs)
        _write_text(
            self.item_path(i),
            json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False), indent=2),
        )

    def _write_truth(self) -> None:
        tdir = self.root / "truth"
        tdir.mkdir(parents=True, exist_ok=True)
        gdf, masks = self.truth()
        tmp = tdir / ".events.geojson.tmp"
        gdf.to_file(tmp, driver="GeoJSON")
        os.replace(tmp, tdir / "events.geojson")
        tr, crs = self.grid.transform(), self.grid.crs
        for kind, m in masks.items():
            write_cog(tdir / f"{kind}.tif", m.astype(np.uint8), tr, crs, None, "nearest")
        lc0 = self.landscape.landcover
        write_cog(tdir / "landcover.tif", lc0, tr, crs, nodata=0, resampling="nearest")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _meta(config: WorldConfig) -> dict[str, Any]:
    # the JSON round trip makes tuples lists, so a stored config compares equal
    return {
        "generator": "rs.testing",
        "generator_version": GENERATOR_VERSION,
        "config": json.loads(json.dumps(config.to_dict())),
    }


def generate_world(root: Path | str, config: WorldConfig | None = None) -> World:
    """Write the synthetic world under ``root`` and return it.

    If ``root/world.json`` records the same configuration and generator version, nothing is
    rewritten. Otherwise the ``sentinel-2-l2a/`` and ``truth/`` folders under ``root`` are replaced.
    """
    root = Path(root).resolve()
    config = config or WorldConfig()
    meta_path = root / "world.json"
    meta = _meta(config)
    if meta_path.exists():
        try:
            stored = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = None
        if isinstance(stored, dict) and all(stored.get(k) == v for k, v in meta.items()):
            return World(root, config)
        meta_path.unlink()
    for sub in (COLLECTION, "truth"):
        if (root / sub).is_dir():
            shutil.rmtree(root / sub)
    world = World(root, config)
    for i in range(world.n_dates):
        world._write_scene(i)
    world._write_truth()
    meta["items"] = [str(p.relative_to(root)) for p in world.item_paths()]
    meta["datetimes"] = [t.isoformat() for t in world.datetimes]
    _write_text(meta_path, json.dumps(meta, indent=2))
    return world


def load_world(root: Path | str) -> World:
    """The world previously written by :func:`generate_world` under ``root``."""
    root = Path(root).resolve()
    meta_path = root / "world.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise SourceError(
            f"no synthetic world at {root}: run rs.testing.generate_world({str(root)!r}) first"
        ) from e
    if meta.get("generator_version") != GENERATOR_VERSION:
        raise SourceError(
            f"the world at {root} was made by generator version {meta.get('generator_version')}, "
            f"this is {GENERATOR_VERSION}: call generate_world again to rebuild it"
        )
    return World(root, WorldConfig.from_dict(meta["config"]))


def inner_bbox(world: Any, margin_px: int = 8) -> str:
    """A lon/lat bbox string inside a synthetic :class:`~rs.testing.World`, ``margin_px``
    from each edge."""
    from pyproj import Transformer

    g = world.grid
    minx, miny, maxx, maxy = g.bounds
    m = margin_px * g.res
    to_ll = Transformer.from_crs(g.crs, "EPSG:4326", always_xy=True)
    xs, ys = to_ll.transform(
        [minx + m, maxx - m, minx + m, maxx - m], [miny + m, miny + m, maxy - m, maxy - m]
    )
    west, south = max(xs[0], xs[2]), max(ys[0], ys[1])
    east, north = min(xs[1], xs[3]), min(ys[2], ys[3])
    return f"{west:.6f},{south:.6f},{east:.6f},{north:.6f}"
