"""Zonal: exact statistics of an earlier step's raster per zone (county, reserve, red line).

Per polygon of ``zones``: coverage-weighted count, mean, median, std, min, max, percentiles and
the valid-pixel share of ``layer`` (every band), or with ``categorical`` the area of each class,
computed by exactextract on the published COG (:func:`rs.ecology.zonal.zonal_stats`: partial
pixels weighted by their exact coverage, memory bounded by exactextract's cell budget, not by
the raster). ``raster: step@*`` gives one row per zone and period. Zones outside the raster get
a row with zero valid pixels.

Outputs: ``zonal`` (CSV/Parquet) and ``zonal_zones`` (GeoPackage/GeoParquet: the zones with
their statistics; with several periods, one row per zone and period).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from rs.products.base import Needs, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "ZonalSpec"]


class ZonalSpec(StepSpec):
    """Statistics of ``layer`` of the ``raster`` step per polygon of ``zones``."""

    PATH_FIELDS = ("zones",)

    kind: Literal["zonal"]
    raster: str = Field(description="upstream step: 'step', 'step@period' or 'step@*'")
    layer: str = Field(description="output key of the raster, e.g. 'ndvi' or 'rsei_class'")
    zones: str = Field(description="vector file of the zones")
    zone_id: str = "id"
    percentiles: list[float] = Field(default_factory=lambda: [10.0, 90.0])
    categorical: bool = False
    classes: dict[int, str] | None = Field(default=None, description="class value -> name")


def needs(spec: ZonalSpec) -> Needs:
    return Needs(upstream={"raster": spec.raster})


def outputs(spec: ZonalSpec) -> list[str]:
    return ["zonal.csv", "zonal.parquet", "zonal_zones.gpkg"]


def build(ctx: StepContext) -> StepSummary:
    import geopandas as gpd
    import pandas as pd

    from rs.ecology.zonal import zonal_stats
    from rs.errors import SpecError
    from rs.export.tables import write_table
    from rs.export.vectors import typed_for_writing, write_vector
    from rs.load.vectors import read_vector

    spec: ZonalSpec = ctx.spec
    zones = read_vector(spec.zones)
    if spec.zone_id not in zones.columns:
        raise SpecError(f"zones {spec.zones!r} have no column {spec.zone_id!r} (columns: "
                        f"{', '.join(map(str, zones.columns))}): set zone_id")
    parts = []
    for up in sorted(ctx.upstream["raster"], key=lambda u: u.period.start):
        table = zonal_stats(
            str(up.asset(spec.layer)), zones, id_column=spec.zone_id,
            percentiles=spec.percentiles, categorical=spec.categorical, classes=spec.classes,
            parallel=ctx.runtime.part_map(f"{ctx.out.stem}: zones"),
        )
        table.insert(0, "period", up.period.label)
        parts.append(table)
    table = pd.concat(parts)
    table.index.name = spec.zone_id
    ctx.out.add(*write_table(table, ctx.out.staging, f"{ctx.out.stem}_zonal", key="zonal",
                             title=f"zonal statistics of {spec.layer}"))
    frame = zones[[spec.zone_id, "geometry"]].merge(table.reset_index(), on=spec.zone_id)
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=zones.crs)
    frame, schema = typed_for_writing(frame)
    ctx.out.add(*write_vector(frame, ctx.out.staging, f"{ctx.out.stem}_zonal_zones",
                              key="zonal_zones", layer="zonal_zones", schema=schema,
                              title=f"zones with the statistics of {spec.layer}"))
    return StepSummary(properties={"rs:zonal": {"layer": spec.layer, "zones": len(zones),
                                                "periods": len(parts)}})


PRODUCT = ProductDef(kind="zonal", spec=ZonalSpec, needs=needs, build=build, outputs=outputs)
