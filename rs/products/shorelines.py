"""Shorelines: a sub-pixel shoreline per clear scene, its position on every transect, tide
correction and the USGS DSAS change statistics per transect.

One Dask task per scene loads the scene over the AOI grid (eagerly, inside the task), computes
the water index and extracts the shoreline (:mod:`rs.coast.shoreline`); the scenes whose coast is
mostly masked (cloud, nodata: ``max_masked`` of the pixels near the reference shoreline) or that
show no land/water contrast are dropped and reported with a reason. The kept shorelines are
intersected with the transects (:mod:`rs.coast.transects`), corrected to ``z_ref`` with a tide
series and beach slopes when given (:mod:`rs.coast.tides`) and summarised per transect
(:mod:`rs.coast.stats`).

Outputs: ``shorelines`` (GeoPackage/GeoParquet, one MultiLineString per kept scene),
``positions`` (CSV/Parquet, one row per scene and transect: raw and tide-corrected chainage,
water level, quality), ``transects`` (GeoPackage/GeoParquet, the transects with their DSAS
statistics) and ``scenes`` (CSV, every scene with its status and reason).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from rs.products.base import GridMixin, Needs, ProductDef, SourceNeed, StepSpec, StepSummary

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    import pystac
    from odc.geo.geobox import GeoBox
    from shapely.geometry.base import BaseGeometry

    from rs.coast.shoreline import Shoreline
    from rs.load import SkippedScene
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "ShorelinesSpec"]

MaskClass = Literal["cloud", "shadow", "snow", "cirrus", "invalid"]
_MASK: tuple[MaskClass, ...] = ("cloud", "cirrus", "shadow", "snow")
_INDEX_BANDS = {
    "mndwi": ("green", "swir16"),
    "ndwi": ("green", "nir"),
    "awei_nsh": ("green", "nir", "swir16", "swir22"),
    "awei_sh": ("blue", "green", "nir", "swir16", "swir22"),
}


class ShorelinesSpec(StepSpec, GridMixin):
    """Per-scene shorelines, transect positions and DSAS statistics (see the module docstring).

    Paths (``reference``, ``transects``, ``baseline``, ``tides``, ``slopes`` as a file) are
    relative to the spec file. Give ``transects`` (LineStrings from the landward origin
    seaward, with an ``id`` column) or a ``baseline`` from which shore-normal transects are cast
    every ``transect_spacing`` m, ``transect_length`` m long, towards ``seaward``.
    """

    PATH_FIELDS = ("reference", "transects", "baseline", "tides", "slopes")

    kind: Literal["shorelines"]
    source: str | None = Field(default=None, description="optical source (default: the only one)")
    index: Literal["mndwi", "ndwi", "awei_nsh", "awei_sh"] = "mndwi"
    threshold: Literal["otsu-series", "otsu"] | float = Field(
        default="otsu-series",
        description="'otsu-series': the median of every scene's Otsu threshold, used for all "
        "scenes; 'otsu': each scene its own; or a fixed water-index value",
    )
    reference: str | None = Field(
        default=None, description="vector file of the expected shoreline (required)"
    )
    reference_buffer_m: float = Field(default=250.0, gt=0)
    transects: str | None = None
    transect_id: str = "id"
    baseline: str | None = None
    transect_spacing: float = Field(default=100.0, gt=0)
    transect_length: float = Field(default=500.0, gt=0)
    seaward: Literal["left", "right"] = "right"
    band_m: float = Field(default=25.0, gt=0)
    tides: str | None = Field(default=None, description="CSV of time, water level (m)")
    slopes: float | str | None = Field(
        default=None, description="beach slope tan(beta): one number or a CSV per transect"
    )
    z_ref: float = 0.0
    max_masked: float = Field(default=0.5, ge=0, le=1)
    mask: list[MaskClass] = Field(default_factory=lambda: list(_MASK))
    confidence: float = Field(default=0.95, gt=0, lt=1)
    uncertainty_m: float | None = Field(
        default=None, gt=0, description="positional uncertainty of a shoreline (m), for WLR"
    )

    @model_validator(mode="after")
    def _inputs(self) -> ShorelinesSpec:
        if self.reference is None:
            raise ValueError(
                "a shorelines step needs 'reference': a vector file of the expected shoreline "
                "(shorelines are kept within reference_buffer_m of it)"
            )
        if (self.transects is None) == (self.baseline is None):
            raise ValueError("give exactly one of 'transects' (a vector file) or 'baseline'")
        if (self.tides is None) != (self.slopes is None):
            raise ValueError("tide correction needs both 'tides' and 'slopes'")
        if isinstance(self.slopes, float) and self.slopes <= 0:
            raise ValueError(f"slopes (tan beta) must be > 0, got {self.slopes}")
        return self


def needs(spec: ShorelinesSpec) -> Needs:
    check = {"bands": list(_INDEX_BANDS[spec.index]), "mask": bool(spec.mask)}
    return Needs(sources={"scenes": SourceNeed("optical", spec.source, check)})


def outputs(spec: ShorelinesSpec) -> list[str]:
    return ["shorelines.gpkg", "positions.csv", "transects.gpkg", "scenes.csv"]


def _scene(
    items: list[pystac.Item],
    index: int,
    geobox: GeoBox,
    spec: ShorelinesSpec,
    reference: BaseGeometry,
    threshold: float | Literal["otsu"],
    on_error: Literal["skip", "fail"],
    gdal_env: dict[str, str],
) -> tuple[Shoreline | None, list[SkippedScene]]:
    """Runs in a Dask task: one scene over the AOI grid -> its shoreline."""
    import numpy as np
    import rasterio

    from rs.coast.shoreline import extract_shoreline
    from rs.load.block import load_block

    with rasterio.Env(**gdal_env):
        ds, skipped = load_block(
            [items[index]], _INDEX_BANDS[spec.index], geobox=geobox, mask=tuple(spec.mask),
            on_error=on_error,
        )
    if ds is None:
        return None, skipped
    bands = {b: np.asarray(ds[b].values[0], dtype=np.float64) for b in _INDEX_BANDS[spec.index]}
    line = extract_shoreline(
        bands, geobox.transform, crs=str(geobox.crs), index=spec.index,
        threshold=threshold, reference=reference,
        reference_buffer_m=spec.reference_buffer_m,
    )
    return line, skipped


def _lines(path: str, crs: str, what: str) -> gpd.GeoDataFrame:

    from rs.errors import SpecError
    from rs.load.vectors import read_vector

    try:
        frame = read_vector(path)
    except Exception as e:  # pyogrio raises several types for unreadable files
        raise SpecError(f"{what} {path!r} cannot be read as a vector file: {e}") from e
    if frame.empty:
        raise SpecError(f"{what} {path!r} has no features")
    if frame.crs is None:
        raise SpecError(f"{what} {path!r} has no CRS; save it with one")
    return frame.to_crs(crs)


def _transects(spec: ShorelinesSpec, crs: str) -> gpd.GeoDataFrame:
    from shapely.ops import linemerge, unary_union

    from rs.coast.transects import cast_transects
    from rs.errors import SpecError

    if spec.transects is not None:
        frame = _lines(spec.transects, crs, "transects")
        if spec.transect_id not in frame.columns:
            raise SpecError(
                f"transects {spec.transects!r} have no column {spec.transect_id!r} (columns: "
                f"{', '.join(map(str, frame.columns))}): set transect_id"
            )
        return frame.rename(columns={spec.transect_id: "id"})[["id", "geometry"]]
    assert spec.baseline is not None
    base = unary_union(list(_lines(spec.baseline, crs, "baseline").geometry))
    if base.geom_type == "MultiLineString":
        base = linemerge(base)
    if base.geom_type != "LineString":
        raise SpecError(f"baseline {spec.baseline!r} must be one continuous line")
    return cast_transects(
        base, spec.transect_spacing, spec.transect_length, side=spec.seaward, crs=crs
    )


def _tide_corrected(
    spec: ShorelinesSpec, positions: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.Series | None]:
    """Positions corrected to ``z_ref`` (or as they are), the shift and the water levels."""
    from rs.coast.positions import read_slopes, read_tides
    from rs.coast.tides import tide_correct

    if spec.tides is None:
        return positions, None, None
    tide = read_tides(spec.tides)
    slopes: Any = (
        spec.slopes
        if isinstance(spec.slopes, float)
        else read_slopes(str(spec.slopes), [str(c) for c in positions.columns])
    )
    fixed = tide_correct(positions, tide, slopes, z_ref=spec.z_ref)
    return fixed.positions, fixed.shift, fixed.levels


def build(ctx: StepContext) -> StepSummary:
    """Extract, intersect, correct and summarise; write the four outputs."""
    import dask
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from shapely.geometry import MultiLineString
    from shapely.ops import unary_union

    from rs.coast.stats import transect_stats
    from rs.coast.transects import Transects, intersect
    from rs.export.tables import write_table
    from rs.export.vectors import write_vector
    from rs.load.optical import grid_anchor, scaling_provenance
    from rs.pipeline.planning import task_key
    from rs.products._grid import output_geobox

    spec: ShorelinesSpec = ctx.spec
    assert ctx.crs is not None and spec.reference is not None
    refs = ctx.inputs["scenes"]
    items = ctx.items("scenes")
    bands = list(_INDEX_BANDS[spec.index])
    anchor = grid_anchor(items, bands, ctx.crs, spec.resolution)
    gbox = output_geobox(ctx.aoi.union, ctx.crs, spec.resolution, anchor.anchor)
    reference = unary_union(list(_lines(spec.reference, ctx.crs, "reference").geometry))
    transects = _transects(spec, ctx.crs)

    shared = ctx.runtime.shared(items, "rs-items", [(r.id, r.href) for r in refs])
    env = ctx.runtime.shared(ctx.runtime.gdal_env, "rs-gdal-env", ctx.runtime.gdal_env)
    params = spec.parameters()

    def extract(threshold: float | Literal["otsu"], what: str) -> dict[int, Shoreline | None]:
        tasks = [
            dask.delayed(_scene, pure=True)(
                shared, i, gbox, spec, reference, threshold, ctx.runtime.on_error, env,
                dask_key_name=task_key(
                    f"rs-{spec.id}", shared.key, env.key, i, tuple(gbox.transform)[:6],
                    gbox.shape.yx, params, reference.wkt, threshold, ctx.runtime.on_error,
                ),
            )
            for i in range(len(items))
        ]
        found: dict[int, Shoreline | None] = {}
        for i, (line, skipped) in ctx.runtime.compute_each(tasks, f"{ctx.out.stem}: {what}"):
            ctx.scene_use.record([refs[i].id], skipped)
            found[i] = line
        return found

    series: float | None = None
    if spec.threshold == "otsu-series":
        first = extract("otsu", "scene thresholds")
        levels = [
            ln.threshold for ln in first.values()
            if ln is not None and ln.masked_fraction <= spec.max_masked and ln.reason is None
        ]
        series = float(np.median(levels)) if levels else None
    if spec.threshold == "otsu-series" and series is not None:
        found = extract(series, "shorelines")
    elif spec.threshold == "otsu-series":
        found = first
    else:
        found = extract("otsu" if spec.threshold == "otsu" else float(spec.threshold), "scenes")

    rows: list[dict[str, Any]] = []
    kept: list[tuple[pd.Timestamp, str, Shoreline]] = []
    for i, ref in enumerate(refs):
        line = found.get(i)
        when = pd.Timestamp(ref.datetime).tz_convert("UTC") if ref.datetime else pd.NaT
        status, reason = "used", ""
        if line is None:
            status, reason = "skipped", "pixel data unreadable"
        elif line.masked_fraction > spec.max_masked:
            status = "dropped"
            reason = (
                f"{line.masked_fraction:.0%} of the coast masked (cloud, shadow or nodata; "
                f"max_masked {spec.max_masked:.0%})"
            )
        elif line.reason is not None or line.geometry.is_empty:
            status, reason = "dropped", line.reason or "no shoreline found"
        rows.append({
            "scene": ref.id, "date": when, "status": status, "reason": reason,
            "threshold": np.nan if line is None else line.threshold,
            "masked_fraction": np.nan if line is None else line.masked_fraction,
            "segments": 0 if line is None else line.n_segments,
            "cloud_segments": 0 if line is None else line.n_cloud_segments,
        })
        if status == "used" and line is not None:
            kept.append((when, ref.id, line))
    scenes = pd.DataFrame(rows)
    kept.sort(key=lambda k: k[0])

    stem = ctx.out.stem
    assets = write_table(scenes, ctx.out.staging, f"{stem}_scenes", key="scenes",
                         title="every scene: used, dropped or skipped, and why",
                         formats=("csv",))
    lines = gpd.GeoDataFrame(
        {
            "date": [k[0].to_pydatetime() for k in kept],
            "scene": [k[1] for k in kept],
            "index": [spec.index for _ in kept],
            "threshold": [k[2].threshold for k in kept],
            "segments": [k[2].n_segments for k in kept],
            "cloud_segments": [k[2].n_cloud_segments for k in kept],
        },
        geometry=[MultiLineString(k[2].geometry) for k in kept],
        crs=ctx.crs,
    )
    assets += write_vector(
        lines, ctx.out.staging, f"{stem}_shorelines", key="shorelines", layer="shorelines",
        geometry_type="MultiLineString", title="sub-pixel shoreline per clear scene",
        schema={"date": "datetime", "scene": "str", "index": "str", "threshold": "float",
                "segments": "int", "cloud_segments": "int"},
    )

    tr = Transects.from_frame(transects, "id")
    hits = intersect([k[2] for k in kept], tr, dates=[k[0] for k in kept], band_m=spec.band_m)
    dates = pd.DatetimeIndex([k[0] for k in kept])
    raw = pd.DataFrame(hits.chainage, index=dates, columns=[str(t) for t in tr.ids])
    corrected, _, water = _tide_corrected(spec, raw)
    long = hits.to_long()
    long["transect_id"] = long["transect_id"].astype(str)
    long["chainage_corrected"] = corrected.to_numpy().ravel()
    long["water_level"] = np.repeat(water.to_numpy(), len(tr)) if water is not None else np.nan
    long["date"] = pd.to_datetime(long["date"], utc=True)
    assets += write_table(long, ctx.out.staging, f"{stem}_positions", key="positions",
                          title="shoreline position (chainage, m, seaward) per scene and transect")

    stats = transect_stats(corrected, confidence=spec.confidence, uncertainty=spec.uncertainty_m)
    stats.index = stats.index.astype(str)
    frame = transects.assign(id=transects["id"].astype(str)).set_index("id").join(stats)
    frame = gpd.GeoDataFrame(frame.reset_index(), geometry="geometry", crs=ctx.crs)
    schema = {c: ("str" if c in ("id", "reason") else "datetime" if c in ("oldest", "youngest")
                  else "int" if c in ("n", "n_outliers") else "float")
              for c in frame.columns if c != "geometry"}
    frame = frame.astype({c: "float64" for c, t in schema.items() if t == "float"})
    assets += write_vector(
        frame, ctx.out.staging, f"{stem}_transects", key="transects", layer="transects",
        geometry_type="LineString", schema=schema,
        title="transects with USGS DSAS statistics (SCE, NSM, EPR, LRR, WLR)",
    )
    ctx.out.add(*assets)

    dropped = scenes[scenes["status"] != "used"]
    return StepSummary(
        layers=[],
        valid_pixels=int(np.isfinite(hits.chainage).sum()),
        properties={
            "rs:scaling": scaling_provenance(items, bands),
            "rs:grid": anchor.reason,
            "rs:shorelines": len(kept),
            "rs:dropped_scenes": [
                {"scene": r.scene, "reason": r.reason} for r in dropped.itertuples()
            ],
            "rs:tide_corrected": spec.tides is not None,
            "rs:series_threshold": series,
            "rs:lrr_mean_m_per_yr": float(np.nanmean(stats["lrr"])) if len(stats) else None,
        },
    )


PRODUCT = ProductDef(
    kind="shorelines", spec=ShorelinesSpec, needs=needs, build=build, outputs=outputs
)
