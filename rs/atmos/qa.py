"""Quality filtering of a swath before it is weighted (pure).

A pixel is kept when it has a value and a finite centre, ``qa_value > min_qa`` (strictly, as
the product user manuals write it: NO2 > 0.75, CH4 and blended CH4 > 0.5 by default,
:data:`rs.atmos.swath.PRODUCTS`) and usable corners (:func:`rs.atmos._polygons.corner_problems`:
no NaN corner, convex with the swath's orientation, not wider than 180° of longitude unless it
really crosses the antimeridian, not larger than ``max_extent_km``). Degenerate corners are
dropped here, before any weighting: a pixel with NaN or scrambled corners otherwise gets a huge
or meaningless overlap area and dominates the cells it touches (HARP issue #252). When no
pixel is left :func:`apply_qa` warns with a :class:`QaWarning` and returns the empty swath,
which grids to an empty but valid accumulator.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from rs.atmos._polygons import corner_problems
from rs.atmos.swath import PRODUCTS, Swath
from rs.errors import RsWarning

__all__ = ["QaReport", "QaWarning", "apply_qa", "qa_mask"]


class QaWarning(RsWarning):
    """No pixel of a swath passed quality filtering."""


@dataclass(frozen=True)
class QaReport:
    """Pixel counts of one swath through QA (each pixel counted once, first reason wins)."""

    source: str
    product: str
    min_qa: float
    total: int
    no_value: int  # value or centre NaN (fill)
    low_qa: int  # qa_value <= min_qa or missing
    bad_corners: int  # corners unusable (see corner_problems)
    kept: int


def qa_mask(
    swath: Swath, *, min_qa: float | None = None, max_extent_km: float = 150.0
) -> tuple[np.ndarray, QaReport]:
    """Boolean mask of the pixels to keep, and the counts."""
    threshold = PRODUCTS[swath.product].min_qa if min_qa is None else float(min_qa)
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"min_qa must be in [0, 1), got {threshold}")
    has_value = np.isfinite(swath.value) & np.isfinite(swath.lon) & np.isfinite(swath.lat)
    with np.errstate(invalid="ignore"):
        good_qa = swath.qa > threshold  # NaN (fill) compares False
    corners_ok = ~corner_problems(swath.lon_bounds, swath.lat_bounds, max_extent_km=max_extent_km)
    keep = has_value & good_qa & corners_ok
    report = QaReport(
        source=swath.source, product=swath.product, min_qa=threshold, total=len(swath),
        no_value=int((~has_value).sum()), low_qa=int((has_value & ~good_qa).sum()),
        bad_corners=int((has_value & good_qa & ~corners_ok).sum()), kept=int(keep.sum()),
    )
    return keep, report


def apply_qa(
    swath: Swath, *, min_qa: float | None = None, max_extent_km: float = 150.0
) -> tuple[Swath, QaReport]:
    """The pixels of ``swath`` that pass QA, and the counts; warns (:class:`QaWarning`) when
    none does."""
    keep, report = qa_mask(swath, min_qa=min_qa, max_extent_km=max_extent_km)
    if report.kept == 0:
        warnings.warn(
            f"{swath.source}: no pixel passes QA (of {report.total}: {report.no_value} without "
            f"value, {report.low_qa} with qa_value <= {report.min_qa:g}, {report.bad_corners} "
            "with unusable corners); it adds nothing to the grid",
            QaWarning, stacklevel=2,
        )
    return swath.select(keep), report
