"""The output grid of raster products (pure)."""

from __future__ import annotations

from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry.base import BaseGeometry

__all__ = ["output_geobox"]


def output_geobox(aoi: BaseGeometry, crs: str, resolution: float) -> GeoBox:
    """The AOI's bounds in ``crs`` on a ``resolution`` grid anchored at 0 (pixel-aligned)."""
    return GeoBox.from_geopolygon(Geometry(aoi, "EPSG:4326").to_crs(crs), resolution=resolution)
