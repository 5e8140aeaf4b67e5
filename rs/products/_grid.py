"""The output grid of raster products (pure)."""

from __future__ import annotations

from odc.geo import XY
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry.base import BaseGeometry

__all__ = ["output_geobox"]


def output_geobox(
    aoi: BaseGeometry, crs: str, resolution: float, anchor: XY[float] | None = None
) -> GeoBox:
    """The AOI's bounds in ``crs`` on a ``resolution`` grid.

    Pixel edges sit on multiples of ``resolution`` unless ``anchor`` (from
    :func:`rs.load.optical.grid_anchor`) moves them onto the source scenes' own grid.
    """
    geom = Geometry(aoi, "EPSG:4326").to_crs(crs)
    if anchor is None:
        return GeoBox.from_geopolygon(geom, resolution=resolution)
    return GeoBox.from_geopolygon(geom, resolution=resolution, anchor=anchor)
