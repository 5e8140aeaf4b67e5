"""The product registry: one line per product module.

A product is a module under ``rs/products/`` exporting ``PRODUCT`` (a
:class:`rs.products.base.ProductDef`); see ``rs/products/base.py`` for the protocol and
``docs/architecture.md`` for how the runner drives it. Adding a product is one module plus one
line below; the runner never names a product.
"""

from __future__ import annotations

from rs.products import (
    bundle,
    ch4_plumes,
    composite,
    difference,
    eqi,
    eqi_change,
    hotspots,
    land_change,
    redline,
    rsei,
    s5p_grid,
    shorelines,
    trend,
    validation,
    zonal,
)
from rs.products.base import ProductDef

__all__ = ["PRODUCTS"]

PRODUCTS: dict[str, ProductDef] = {
    p.kind: p
    for p in (
        composite.PRODUCT,
        difference.PRODUCT,
        shorelines.PRODUCT,
        land_change.PRODUCT,
        bundle.PRODUCT,
        rsei.PRODUCT,
        zonal.PRODUCT,
        trend.PRODUCT,
        eqi.PRODUCT,
        eqi_change.PRODUCT,
        s5p_grid.PRODUCT,
        hotspots.PRODUCT,
        ch4_plumes.PRODUCT,
        validation.PRODUCT,
        redline.PRODUCT,
    )
}
