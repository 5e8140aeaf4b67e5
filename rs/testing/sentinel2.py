"""Sentinel-2 L2A product conventions of the synthetic world (docs/contracts.md).

Asset keys follow Earth Search v1; DN encoding follows ESA processing baselines: from baseline
04.00 (2022-01-25) DN = reflectance * 10000 + 1000 (BOA_ADD_OFFSET = -1000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pystac
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from shapely.geometry import mapping

from rs.errors import SpecError
from rs.testing._grid import Grid

__all__ = [
    "BASELINE_04_START",
    "COLLECTION",
    "S2_BANDS",
    "S2Band",
    "build_item",
    "decode_dn",
    "encode_dn",
    "item_id",
    "mgrs_tile",
    "platform_for",
    "processing_baseline",
]

COLLECTION = "sentinel-2-l2a"
BASELINE_04_START = date(2022, 1, 25)
SCALE = 0.0001
COG_MEDIA_TYPE = pystac.MediaType.COG


@dataclass(frozen=True)
class S2Band:
    """One asset of a scene: key (= common name, or ``scl``), ESA band id, resolution, centre
    wavelength and FWHM in micrometres."""

    key: str
    band_id: str
    res: int
    centre: float | None = None
    fwhm: float | None = None

    @property
    def is_scl(self) -> bool:
        return self.key == "scl"


S2_BANDS: tuple[S2Band, ...] = (
    S2Band("blue", "B02", 10, 0.490, 0.098),
    S2Band("green", "B03", 10, 0.560, 0.045),
    S2Band("red", "B04", 10, 0.665, 0.038),
    S2Band("nir", "B08", 10, 0.842, 0.145),
    S2Band("swir16", "B11", 20, 1.610, 0.143),
    S2Band("swir22", "B12", 20, 2.190, 0.242),
    S2Band("scl", "SCL", 20),
)


def processing_baseline(d: date) -> str:
    """ESA processing baseline of a scene sensed on ``d``."""
    return "04.00" if d >= BASELINE_04_START else "03.01"


def _offset_dn(baseline: str) -> int:
    return 1000 if baseline >= "04.00" else 0


def encode_dn(reflectance: np.ndarray, baseline: str) -> np.ndarray:
    """Reflectance -> uint16 DN: ``round(r * 10000) + (1000 if baseline >= 04.00)``, clipped to
    1..65535 (0 is nodata); NaN becomes 0."""
    dn = np.rint(reflectance.astype(np.float64) / SCALE) + _offset_dn(baseline)
    out = np.clip(np.nan_to_num(dn, nan=0.0), 1, 65535).astype(np.uint16)
    out[np.isnan(reflectance)] = 0
    return out


def decode_dn(dn: np.ndarray, baseline: str) -> np.ndarray:
    """uint16 DN -> float32 reflectance (NaN where DN is 0), the inverse of :func:`encode_dn`."""
    r = (dn.astype(np.float64) - _offset_dn(baseline)) * SCALE
    return np.where(dn == 0, np.nan, r).astype(np.float32)


def platform_for(d: date) -> str:
    """S2A and S2B alternate every 5 days (a stand-in for the real orbit phasing)."""
    return "sentinel-2a" if (d.toordinal() // 5) % 2 == 0 else "sentinel-2b"


def mgrs_tile(grid: Grid) -> str:
    """MGRS tile (e.g. ``50SPA``) of the grid centre; UTM north zones (EPSG:326xx) only."""
    zone = int(grid.crs.split(":")[1]) - 32600
    if not 1 <= zone <= 60:
        raise SpecError(f"mgrs_tile needs a UTM north CRS (EPSG:326xx), got {grid.crs}")
    left, bottom, right, top = grid.bounds
    e, n = (left + right) / 2, (bottom + top) / 2
    lat = grid.footprint().centroid.y
    band = "CDEFGHJKLMNPQRSTUVWX"[min(19, math.floor((lat + 80) / 8))]
    col = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")[(zone - 1) % 3][int(e // 100000) - 1]
    row = "ABCDEFGHJKLMNPQRSTUV"[(int(n // 100000) + (5 if zone % 2 == 0 else 0)) % 20]
    return f"{zone}{band}{col}{row}"


def item_id(d: date, grid: Grid) -> str:
    """Earth Search style id, e.g. ``S2B_50SPA_20220415_0_L2A``."""
    sat = "S2A" if platform_for(d) == "sentinel-2a" else "S2B"
    return f"{sat}_{mgrs_tile(grid)}_{d:%Y%m%d}_0_L2A"


def build_item(
    grid: Grid,
    when: datetime,
    cloud_cover: float,
    hrefs: dict[str, Path],
) -> pystac.Item:
    """A pystac Item for one scene whose band files are ``hrefs`` (key -> absolute path)."""
    d = when.date()
    foot = grid.footprint()
    item = pystac.Item(
        id=item_id(d, grid),
        geometry=mapping(foot),
        bbox=list(foot.bounds),
        datetime=when,
        properties={
            "platform": platform_for(d),
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "eo:cloud_cover": cloud_cover,
            "s2:processing_baseline": processing_baseline(d),
            "s2:product_type": "S2MSI2A",
            "s2:mgrs_tile": mgrs_tile(grid),
        },
    )
    item.collection_id = COLLECTION
    EOExtension.add_to(item)
    RasterExtension.add_to(item)
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = grid.crs
    proj.bbox = list(grid.bounds)
    for b in S2_BANDS:
        asset = pystac.Asset(
            href=hrefs[b.key].resolve().as_uri(),
            media_type=COG_MEDIA_TYPE,
            roles=["data", "cloud"] if b.is_scl else ["data"],
            title=f"{b.band_id} ({b.res} m)",
        )
        item.add_asset(b.key, asset)
        EOExtension.ext(asset).bands = [
            Band.create(
                name=b.band_id,
                common_name=None if b.is_scl else b.key,
                center_wavelength=b.centre,
                full_width_half_max=b.fwhm,
            )
        ]
        RasterExtension.ext(asset).bands = [
            RasterBand.create(
                nodata=0,
                data_type=DataType.UINT8 if b.is_scl else DataType.UINT16,
                scale=None if b.is_scl else SCALE,
                spatial_resolution=b.res,
            )
        ]
        pa = ProjectionExtension.ext(asset)
        pa.code = grid.crs
        pa.shape = list(grid.shape(b.res))
        pa.transform = list(grid.transform(b.res))[:6]
    return item
