"""EQI change: ΔEQI and its change class per zone between two ``eqi`` steps (``before``,
``after``; :func:`rs.ecology.eqi.eqi_change`, the method's change levels).

Outputs: ``eqi_change`` (CSV/Parquet) and ``eqi_change_zones`` (GeoPackage/GeoParquet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from rs.products.base import Needs, OneOutput, ProductDef, StepSpec, StepSummary
from rs.products.eqi import config_of, publish_zone_table

if TYPE_CHECKING:
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "EqiChangeSpec"]


class EqiChangeSpec(StepSpec):
    """ΔEQI per zone between two ``eqi`` steps (``before``, ``after``)."""

    PATH_FIELDS = ("config",)

    kind: Literal["eqi-change"]
    before: OneOutput
    after: OneOutput
    config: str | None = None


def needs(spec: EqiChangeSpec) -> Needs:
    return Needs(upstream={"before": spec.before, "after": spec.after})


def build(ctx: StepContext) -> StepSummary:
    import geopandas as gpd
    import pandas as pd

    from rs.ecology.eqi import eqi_change

    spec: EqiChangeSpec = ctx.spec
    config = config_of(spec)
    (before,) = ctx.upstream["before"]
    (after,) = ctx.upstream["after"]
    a = pd.read_parquet(before.asset("eqi_parquet"))
    b = pd.read_parquet(after.asset("eqi_parquet"))
    zone_id = str(b.columns[0])
    a, b = a.set_index(a.columns[0]), b.set_index(b.columns[0])
    table = eqi_change(a, b, config)
    table.index.name = zone_id
    zones = gpd.read_parquet(after.asset("eqi_zones_parquet"))[[zone_id, "geometry"]]
    return publish_zone_table(ctx, table, zones, zone_id, "eqi_change", "EQI change per zone")


PRODUCT = ProductDef(
    kind="eqi-change", spec=EqiChangeSpec, needs=needs, build=build,
    outputs=lambda spec: ["eqi_change.csv", "eqi_change_zones.gpkg"],
)
