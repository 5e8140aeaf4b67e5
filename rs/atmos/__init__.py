"""Atmospheric composition from Sentinel-5P TROPOMI: NO2 and CH4 swaths to Level-3 grids.

Pure domain modules, except :mod:`rs.atmos.read` (the I/O edge: it opens NetCDF files):

* :mod:`rs.atmos.swath`   :class:`Swath`, one row per ground pixel; :data:`PRODUCTS`
* :mod:`rs.atmos.read`    ESA L2 NO2 / CH4 and blended TROPOMI+GOSAT CH4 readers
* :mod:`rs.atmos.qa`      qa_value thresholds and degenerate corners, before weighting
* :mod:`rs.atmos.lonlat`  :class:`LonLatGrid`, the regular lon/lat output grid
* :mod:`rs.atmos.grid`    area-weighted oversampling (exact polygon overlap), additive
  accumulators per orbit, temporal means
"""

from __future__ import annotations

from rs.atmos.grid import (
    Accumulator,
    GriddedMean,
    grid_orbit,
    pixel_areas,
    sum_accumulators,
    temporal_mean,
)
from rs.atmos.lonlat import LonLatGrid
from rs.atmos.qa import QaReport, QaWarning, apply_qa, qa_mask
from rs.atmos.read import (
    detect_product,
    read_ch4,
    read_ch4_blended,
    read_no2,
    read_swath,
    required_variables,
)
from rs.atmos.swath import AVOGADRO_CM2, PRODUCTS, Swath

__all__ = [
    "AVOGADRO_CM2",
    "PRODUCTS",
    "Accumulator",
    "GriddedMean",
    "LonLatGrid",
    "QaReport",
    "QaWarning",
    "Swath",
    "apply_qa",
    "detect_product",
    "grid_orbit",
    "pixel_areas",
    "qa_mask",
    "read_ch4",
    "read_ch4_blended",
    "read_no2",
    "read_swath",
    "required_variables",
    "sum_accumulators",
    "temporal_mean",
]
