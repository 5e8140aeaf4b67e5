"""Bundle: the tables and vector layers of earlier steps in one GeoPackage, a layer each.

Analysts open one file in QGIS instead of a folder of CSVs: every table or vector output
(the ``<key>_parquet`` assets that ``write_table`` and ``write_vector`` publish) of the
``inputs`` (step references: ``step``, ``step@period`` or ``step@*`` for every period) becomes
a layer named ``<step>_<period>_<key>`` (lower case, non-alphanumerics as ``_``). Tables
without geometry become GeoPackage attribute tables. ``keys`` limits which outputs are taken.

Output: ``bundle.gpkg``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from rs.products.base import Needs, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "BundleSpec", "layer_name"]


class BundleSpec(StepSpec):
    """One GeoPackage with a layer per table / vector output of ``inputs``."""

    kind: Literal["bundle"]
    inputs: list[str] = Field(min_length=1, description="step references, e.g. 'zonal@*'")
    keys: list[str] | None = Field(default=None, description="output keys to take (default all)")


def needs(spec: BundleSpec) -> Needs:
    return Needs(upstream={f"input{n}": ref for n, ref in enumerate(spec.inputs)})


def outputs(spec: BundleSpec) -> list[str]:
    return ["bundle.gpkg"]


def layer_name(step: str, period: str, key: str) -> str:
    """``<step>_<period>_<key>`` in lower case with runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", f"{step}_{period}_{key}".lower()).strip("_")


def build(ctx: StepContext) -> StepSummary:
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    from rs.errors import SpecError
    from rs.export.stac_items import file_asset
    from rs.export.vectors import GPKG_MEDIA_TYPE
    from rs.pipeline.ledger import asset_paths

    spec: BundleSpec = ctx.spec
    path = ctx.out.path("bundle", "gpkg")
    layers: dict[str, int] = {}
    for role in sorted(ctx.upstream, key=lambda r: int(r.removeprefix("input"))):
        for up in ctx.upstream[role]:
            paths = asset_paths(up.item_path, up.item)
            for asset, file in sorted(paths.items()):
                if not asset.endswith("_parquet"):
                    continue
                key = asset.removesuffix("_parquet")
                if spec.keys is not None and key not in spec.keys:
                    continue
                name = layer_name(up.step, up.period.label, key)
                if name in layers:
                    raise SpecError(f"step {spec.id!r}: two inputs give layer {name!r}")
                frame = gpd.read_parquet(file) if _is_geo(file) else pd.read_parquet(file)
                pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")
                layers[name] = len(frame)
    if not layers:
        raise SpecError(
            f"step {spec.id!r}: the inputs {spec.inputs} have no table or vector outputs"
            + (f" with keys {spec.keys}" if spec.keys else "")
        )
    ctx.out.add(file_asset("bundle", path, GPKG_MEDIA_TYPE, title="tables and layers, one "
                           "GeoPackage layer each", extra={"rs:layers": sorted(layers)}))
    return StepSummary(properties={"rs:bundle_layers": layers})


def _is_geo(path: object) -> bool:
    """Whether a Parquet file is GeoParquet (has ``geo`` metadata)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(str(path)).metadata or {}
    return b"geo" in meta


PRODUCT = ProductDef(kind="bundle", spec=BundleSpec, needs=needs, build=build, outputs=outputs)
