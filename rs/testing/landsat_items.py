"""Scene pieces of the synthetic Landsat world (:mod:`rs.testing.landsat`): Landsat 8/9
Collection 2 Level-2 conventions, the sky of each scene, and the demo counties.

Items look like Planetary Computer / Earth Search v1 ``landsat-c2-l2`` items: asset keys
``blue green red nir08 swir16 swir22`` (SR_B2..SR_B7), ``lwir11`` (ST_B10) and ``qa_pixel``;
``raster:bands`` with the USGS scale and offset; ``proj:code`` / ``proj:shape`` /
``proj:transform`` on the item and on every asset; ids like ``LC08_L2SP_120038_20190731_02_T1``.

Encoding (USGS, *Landsat 8-9 Collection 2 Level-2 Science Product Guide*, LSDS-1619):

- surface reflectance ``SR = DN * 2.75e-5 - 0.2`` (uint16, DN 0 = fill);
- surface temperature ``ST (K) = DN * 0.00341802 + 149.0`` (uint16, DN 0 = fill);
- ``QA_PIXEL`` bits (uint16, value 1 = fill): 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud,
  4 cloud shadow, 5 snow, 6 clear (set when neither cloud nor dilated cloud is set), 7 water;
  two-bit confidences (0 none, 1 low, 2 medium, 3 high) at bits 8-9 cloud, 10-11 cloud shadow,
  12-13 snow/ice, 14-15 cirrus. As in real scenes every confidence is at least "low", so a clear
  land pixel is 21824, clear water 21952, cloud (high confidence) 22280, dilated cloud 21762 and
  cloud shadow (high confidence) 23888.

The sky (:func:`generate_sky`): clouds are smooth random fields thresholded to a scene's cover;
their edges are semi-opaque, a 3-pixel ring around them (the USGS dilation) carries thin haze
and is flagged dilated cloud, and their shadows are the clouds moved away from the sun by
``height / tan(elevation)``. So every pixel touched by a cloud, haze or shadow is flagged.

The demo counties (:func:`demo_counties`, ``aoi/demo_counties.geojson``): C01-C04 split the
demo region (``aoi/demo_region.geojson``) along two wavy lines, C05 is a sub-pixel enclave cut
out of C04 (705 m², across a Landsat pixel corner, so it touches four pixels), and C06 lies east
of the region, about a quarter of it inside the Landsat world.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import shapely
from pyproj import Transformer
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from pystac.extensions.view import ViewExtension
from scipy import ndimage
from shapely.geometry import mapping
from shapely.geometry.polygon import orient

from rs.errors import SpecError
from rs.testing._grid import DEFAULT_GRID, Grid
from rs.testing._noise import rng_for, smooth_noise
from rs.testing.aois import demo_aois
from rs.testing.clouds import _shift

__all__ = [
    "COLLECTION",
    "LANDSAT9_FIRST_DAY",
    "LANDSAT_BANDS",
    "QA_BITS",
    "QA_CONFIDENCE",
    "QA_FILL",
    "SR_KEYS",
    "SR_OFFSET",
    "SR_SCALE",
    "ST_OFFSET",
    "ST_SCALE",
    "LandsatBand",
    "SkyState",
    "build_item",
    "county_coverage",
    "decode_sr",
    "decode_st",
    "demo_counties",
    "demo_counties_text",
    "encode_qa",
    "encode_sr",
    "encode_st",
    "generate_sky",
    "item_id",
    "sun_angles",
]

COLLECTION = "landsat-c2-l2"
SR_SCALE, SR_OFFSET = 2.75e-5, -0.2
ST_SCALE, ST_OFFSET = 0.00341802, 149.0
#: WRS-2 path / row over Nanjing
WRS_PATH, WRS_ROW = 120, 38
#: first day of Landsat 9 Level-2 science data (launched 2021-09-27)
LANDSAT9_FIRST_DAY = date(2021, 10, 31)
_LANDSAT_EXT = "https://stac-extensions.github.io/landsat/v2.0.0/schema.json"
_CLASSIFICATION_EXT = "https://stac-extensions.github.io/classification/v1.1.0/schema.json"


@dataclass(frozen=True)
class LandsatBand:
    """One asset: key, USGS file band name, centre wavelength and FWHM (um), kind
    (``sr`` reflectance, ``st`` temperature, ``qa`` bits)."""

    key: str
    usgs: str
    kind: str
    centre: float | None = None
    fwhm: float | None = None


LANDSAT_BANDS: tuple[LandsatBand, ...] = (
    LandsatBand("blue", "SR_B2", "sr", 0.48, 0.06),
    LandsatBand("green", "SR_B3", "sr", 0.56, 0.06),
    LandsatBand("red", "SR_B4", "sr", 0.65, 0.04),
    LandsatBand("nir08", "SR_B5", "sr", 0.87, 0.03),
    LandsatBand("swir16", "SR_B6", "sr", 1.61, 0.09),
    LandsatBand("swir22", "SR_B7", "sr", 2.20, 0.19),
    LandsatBand("lwir11", "ST_B10", "st", 10.9, 0.59),
    LandsatBand("qa_pixel", "QA_PIXEL", "qa"),
)
SR_KEYS: tuple[str, ...] = tuple(b.key for b in LANDSAT_BANDS if b.kind == "sr")

#: QA_PIXEL single-bit flags (bit index)
QA_BITS: dict[str, int] = {
    "fill": 0,
    "dilated_cloud": 1,
    "cirrus": 2,
    "cloud": 3,
    "cloud_shadow": 4,
    "snow": 5,
    "clear": 6,
    "water": 7,
}
#: QA_PIXEL two-bit confidence fields (lowest bit index)
QA_CONFIDENCE: dict[str, int] = {
    "cloud_confidence": 8,
    "cloud_shadow_confidence": 10,
    "snow_ice_confidence": 12,
    "cirrus_confidence": 14,
}
QA_FILL = 1
_LOW, _HIGH = 1, 3


def encode_sr(reflectance: np.ndarray) -> np.ndarray:
    """Reflectance -> uint16 DN ``round((r + 0.2) / 2.75e-5)`` clipped to 1..65535; NaN -> 0."""
    r = reflectance.astype(np.float64)
    dn = np.clip(np.rint((np.nan_to_num(r, nan=0.0) - SR_OFFSET) / SR_SCALE), 1, 65535)
    return np.where(np.isnan(r), 0, dn).astype(np.uint16)


def encode_st(kelvin: np.ndarray) -> np.ndarray:
    """Surface temperature (K) -> uint16 DN ``round((T - 149) / 0.00341802)``; NaN -> 0."""
    t = kelvin.astype(np.float64)
    dn = np.clip(np.rint((np.nan_to_num(t, nan=ST_OFFSET) - ST_OFFSET) / ST_SCALE), 1, 65535)
    return np.where(np.isnan(t), 0, dn).astype(np.uint16)


def _decode(dn: np.ndarray, scale: float, offset: float) -> np.ndarray:
    value = (dn.astype(np.float64) * scale + offset).astype(np.float32)
    return np.where(dn == 0, np.float32(np.nan), value)


def decode_sr(dn: np.ndarray) -> np.ndarray:
    """uint16 DN -> float32 reflectance as rs.load computes it (float64 math, one rounding)."""
    return _decode(dn, SR_SCALE, SR_OFFSET)


def decode_st(dn: np.ndarray) -> np.ndarray:
    """uint16 DN -> float32 surface temperature in Kelvin (NaN where DN is 0)."""
    return _decode(dn, ST_SCALE, ST_OFFSET)


def encode_qa(
    *,
    cloud: np.ndarray,
    dilated: np.ndarray,
    shadow: np.ndarray,
    water: np.ndarray,
    fill: np.ndarray,
) -> np.ndarray:
    """QA_PIXEL of boolean masks: cloud (bit 3, cloud confidence high), dilated cloud (bit 1,
    outside the cloud), cloud shadow (bit 4, shadow confidence high), clear (bit 6, neither cloud
    nor dilated cloud), water (bit 7, not under cloud); every other confidence low; fill -> 1."""
    conf, bit = QA_CONFIDENCE, QA_BITS
    low = sum(_LOW << b for b in conf.values())
    cloud_bits = (_HIGH << conf["cloud_confidence"]) | (1 << bit["cloud"])
    shadow_bits = (_HIGH << conf["cloud_shadow_confidence"]) | (1 << bit["cloud_shadow"])
    qa = (
        np.full(cloud.shape, low, dtype=np.int64)
        | np.where(cloud, cloud_bits, 0)
        | np.where(dilated & ~cloud, 1 << bit["dilated_cloud"], 0)
        | np.where(shadow, shadow_bits, 0)
        | np.where(cloud | dilated, 0, 1 << bit["clear"])
        | np.where(water & ~cloud, 1 << bit["water"], 0)
    )
    qa[fill] = QA_FILL
    return qa.astype(np.uint16)


def item_id(platform: str, d: date) -> str:
    """``LC08_L2SP_120038_20190731_02_T1`` (Planetary Computer / Earth Search v1 style)."""
    return f"LC0{platform[-1]}_L2SP_{WRS_PATH:03d}{WRS_ROW:03d}_{d:%Y%m%d}_02_T1"


def sun_angles(when: datetime, lon: float, lat: float) -> tuple[float, float]:
    """(azimuth clockwise from north, elevation) of the sun in degrees (NOAA approximation,
    about 0.1 degree)."""
    doy = when.timetuple().tm_yday
    hours = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * math.pi / 365 * (doy - 1 + (hours - 12) / 24)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    ha = math.radians((hours * 60 + eqtime + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    elev = math.asin(
        math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    )
    az = math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi))
    return (math.degrees(az) + 180.0) % 360.0, math.degrees(elev)


def _bitfields() -> list[dict[str, Any]]:
    """``classification:bitfields`` of QA_PIXEL (the classification extension)."""
    fields: list[dict[str, Any]] = [
        {
            "name": name,
            "offset": offset,
            "length": 1,
            "classes": [
                {"value": 0, "name": f"not_{name}"},
                {"value": 1, "name": name},
            ],
        }
        for name, offset in QA_BITS.items()
    ]
    levels = ("not_set", "low", "medium", "high")
    fields += [
        {
            "name": name,
            "offset": offset,
            "length": 2,
            "classes": [{"value": v, "name": level} for v, level in enumerate(levels)],
        }
        for name, offset in QA_CONFIDENCE.items()
    ]
    return fields


def build_item(
    grid: Grid,
    when: datetime,
    platform: str,
    cloud_cover: float,
    cloud_cover_land: float,
    hrefs: dict[str, Path],
) -> pystac.Item:
    """A pystac Item of one scene whose files are ``hrefs`` (asset key -> absolute path)."""
    d = when.date()
    foot = grid.footprint()
    lon, lat = foot.centroid.x, foot.centroid.y
    azimuth, elevation = sun_angles(when, lon, lat)
    n = platform[-1]
    item = pystac.Item(
        id=item_id(platform, d),
        geometry=mapping(foot),
        bbox=list(foot.bounds),
        datetime=when,
        properties={
            "platform": platform,
            "instruments": ["oli", "tirs"],
            "eo:cloud_cover": cloud_cover,
            "landsat:cloud_cover_land": cloud_cover_land,
            "landsat:wrs_type": "2",
            "landsat:wrs_path": f"{WRS_PATH:03d}",
            "landsat:wrs_row": f"{WRS_ROW:03d}",
            "landsat:collection_category": "T1",
            "landsat:collection_number": "02",
            "landsat:correction": "L2SP",
            "landsat:scene_id": f"LC{n}{WRS_PATH:03d}{WRS_ROW:03d}{d:%Y%j}LGN00",
        },
        stac_extensions=[_LANDSAT_EXT, _CLASSIFICATION_EXT],
    )
    item.collection_id = COLLECTION
    EOExtension.add_to(item)
    RasterExtension.add_to(item)
    view = ViewExtension.ext(item, add_if_missing=True)
    view.off_nadir = 0.0
    view.sun_azimuth = round(azimuth, 4)
    view.sun_elevation = round(elevation, 4)
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = grid.crs
    proj.shape = list(grid.shape())
    proj.transform = list(grid.transform())[:6]
    proj.bbox = list(grid.bounds)
    for b in LANDSAT_BANDS:
        roles = {"sr": ["data", "reflectance"], "st": ["data", "temperature"]}.get(
            b.kind, ["cloud", "cloud-shadow", "snow-ice", "water-mask"]
        )
        asset = pystac.Asset(
            href=hrefs[b.key].resolve().as_uri(),
            media_type=pystac.MediaType.COG,
            roles=roles,
            title=f"{b.usgs} ({'OLI' if b.kind == 'sr' else 'TIRS' if b.kind == 'st' else 'QA'})",
        )
        item.add_asset(b.key, asset)
        if b.kind == "qa":
            rb = RasterBand.create(nodata=QA_FILL, data_type=DataType.UINT16, unit="bit index")
            asset.extra_fields["classification:bitfields"] = _bitfields()
        else:
            sr = b.kind == "sr"
            EOExtension.ext(asset).bands = [
                Band.create(
                    name=f"{'OLI' if sr else 'TIRS'}-{b.usgs}",
                    common_name=b.key,
                    center_wavelength=b.centre,
                    full_width_half_max=b.fwhm,
                )
            ]
            rb = RasterBand.create(
                nodata=0,
                data_type=DataType.UINT16,
                scale=SR_SCALE if sr else ST_SCALE,
                offset=SR_OFFSET if sr else ST_OFFSET,
                unit=None if sr else "kelvin",
            )
        rb.spatial_resolution = grid.res
        RasterExtension.ext(asset).bands = [rb]
        pa = ProjectionExtension.ext(asset)
        pa.code = grid.crs
        pa.shape = list(grid.shape())
        pa.transform = list(grid.transform())[:6]
    return item


# --- the sky ----------------------------------------------------------------------------------
DILATION_PX = 3
_SKY_PURPOSE = 23


@dataclass(frozen=True)
class SkyState:
    """Clouds of one scene: boolean masks and the cloud opacity ``alpha`` (0..1, float32)."""

    cloud: np.ndarray
    dilated: np.ndarray
    shadow: np.ndarray
    fill: np.ndarray
    alpha: np.ndarray


def generate_sky(
    shape: tuple[int, int],
    res: float,
    seed: int,
    scene: int,
    sun: tuple[float, float],
    cloudy_share: float,
    max_cloud: float,
    fill_corner: bool = False,
) -> SkyState:
    """The sky of scene ``scene``: cloudy with probability ``cloudy_share``, then covering 4 % to
    ``max_cloud`` of the scene; ``sun`` is (azimuth, elevation) in degrees; ``fill_corner`` puts
    the south-east corner (4.5 % of the scene) outside the scene."""
    rng = rng_for(seed, _SKY_PURPOSE, scene)
    fill = np.zeros(shape, dtype=bool)
    if fill_corner:
        rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
        fill = (rows + 0.5) / shape[0] + (cols + 0.5) / shape[1] > 1.7
    none = np.zeros(shape, dtype=bool)
    if rng.random() >= cloudy_share:
        return SkyState(none, none, none, fill, np.zeros(shape, dtype=np.float32))
    cover = rng.uniform(0.04, max_cloud)
    sigma = max(3.0, min(shape) / 18)
    field = smooth_noise(rng, shape, sigma) + 0.4 * smooth_noise(rng, shape, sigma / 3)
    thr = float(np.quantile(field, 1 - cover))
    cloud = field > thr
    dist = ndimage.distance_transform_edt(~cloud)
    dilated = (dist > 0) & (dist <= DILATION_PX)
    haze = np.where(dilated, 0.2 * (1 - (dist - 1) / DILATION_PX), 0.0)
    alpha = np.where(cloud, np.clip(0.55 + (field - thr) / 0.8, 0.55, 1.0), haze)
    azimuth, elevation = sun
    length = rng.uniform(800.0, 2500.0) / math.tan(math.radians(elevation))  # cloud height
    a = math.radians(azimuth)
    drow = round(length * math.cos(a) / res)  # cast away from the sun
    dcol = round(-length * math.sin(a) / res)
    shadow = _shift(cloud, drow, dcol) & ~cloud
    keep = ~fill
    return SkyState(cloud & keep, dilated & keep, shadow & keep, fill, alpha.astype(np.float32))


# --- demo counties ----------------------------------------------------------------------------
#: dividing lines on the Sentinel-2 demo grid (fractions from its upper-left corner)
_NS_LINE = ((0.47, -0.2), (0.50, 0.2), (0.46, 0.45), (0.52, 0.7), (0.49, 1.2))
_EW_LINE = ((-0.2, 0.46), (0.2, 0.50), (0.4, 0.44), (0.7, 0.49), (1.2, 0.45))
#: C05 in EPSG:32650, across the Landsat pixel corner (663585, 3547635)
_ENCLAVE = (
    (663571.5, 3547623.0),
    (663598.5, 3547626.0),
    (663600.0, 3547650.0),
    (663570.0, 3547648.5),
)
COUNTY_NAMES = {
    "C01": "Beishan",
    "C02": "Dongling",
    "C03": "Xihe",
    "C04": "Nanhu",
    "C05": "Xiaozhou",
    "C06": "Yuanjiang",
}


def _county_polygons() -> dict[str, shapely.Polygon]:
    """County polygons in EPSG:32650 (canonical vertex order, exterior counter-clockwise)."""
    g = DEFAULT_GRID
    to_utm = Transformer.from_crs("EPSG:4326", g.crs, always_xy=True)
    region = shapely.transform(
        demo_aois().region.geometry.iloc[0],
        lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])),
    )
    west = shapely.Polygon([g.xy(-0.2, -0.2), *(g.xy(*p) for p in _NS_LINE), g.xy(-0.2, 1.2)])
    north = shapely.Polygon(
        [g.xy(-0.2, -0.2), g.xy(1.2, -0.2), *(g.xy(*p) for p in reversed(_EW_LINE))]
    )
    enclave = shapely.Polygon(_ENCLAVE)
    parts = {
        "C01": region & west & north,
        "C02": (region & north) - west,
        "C03": (region & west) - north,
        "C04": region - west - north - enclave,
        "C05": enclave,
        "C06": shapely.box(*g.xy(0.86, 0.50), *g.xy(1.14, 0.30)) - region,
    }
    out = {}
    for cid, p in parts.items():
        if not isinstance(p, shapely.Polygon):  # pragma: no cover - guards the layout
            raise SpecError(f"county {cid} is not one polygon ({p.geom_type})")
        out[cid] = orient(shapely.normalize(p), sign=1.0)
    return out


def demo_counties() -> dict[str, Any]:
    """The demo counties as a GeoJSON FeatureCollection in EPSG:4326 (rounded to 1e-7 degrees,
    about 1 cm), properties ``county_id`` (C01..C06) and ``name``."""
    feats = []
    for cid, poly in _county_polygons().items():
        geom = shapely.transform(DEFAULT_GRID.to_lonlat(poly), lambda c: np.round(c, 7))
        feats.append({
            "type": "Feature",
            "properties": {"county_id": cid, "name": COUNTY_NAMES[cid]},
            "geometry": mapping(geom),
        })
    return {"type": "FeatureCollection", "name": "demo_counties", "features": feats}


def demo_counties_text() -> str:
    """The exact text of ``aoi/demo_counties.geojson`` (one feature per line)."""
    fc = demo_counties()
    crs = '"crs": { "type": "name", "properties": { "name": "urn:ogc:def:crs:OGC:1.3:CRS84" } }'
    feats = ",\n".join(json.dumps(f) for f in fc["features"])
    return (
        f'{{\n"type": "FeatureCollection",\n"name": "{fc["name"]}",\n{crs},\n'
        f'"features": [\n{feats}\n]\n}}\n'
    )


def county_coverage(grid: Grid) -> dict[str, np.ndarray]:
    """Per county id, the exact fraction (0..1, float64) of each pixel of ``grid`` inside the
    county: its :func:`demo_counties` polygon taken to the grid CRS vertex by vertex, clipped by
    every pixel square (shapely; independent of any zonal-statistics library)."""
    to_grid = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
    left, top = grid.x0 + cols * grid.res, grid.y0 - rows * grid.res
    boxes = shapely.box(left, top - grid.res, left + grid.res, top)
    out = {}
    for f in demo_counties()["features"]:
        poly = shapely.transform(
            shapely.geometry.shape(f["geometry"]),
            lambda xy: np.column_stack(to_grid.transform(xy[:, 0], xy[:, 1])),
        )
        inside = shapely.intersects(boxes, poly)
        area = np.zeros(grid.shape(), dtype=np.float64)
        area[inside] = shapely.area(shapely.intersection(boxes[inside], poly))
        out[f["properties"]["county_id"]] = area / grid.res**2
    return out
