"""Red-line change: human-activity change patches inside ecological protection red lines and
nature reserves between two earlier composites, typed, with before/after thumbnails, for
field verification.

Reads the ``before`` and ``after`` steps' ``layer`` (a composite holding blue, green, red, nir,
swir16 and swir22) through lazy window readers, and runs the chain of :mod:`rs.change.detect`:
the decision rule fitted once on a regular sample of the whole grid (IR-MAD chi-square test by
default), then one Dask task per segment (:data:`SEGMENT`, or the spec's ``dask.block_size``),
read in strips with a halo of ``DetectConfig.halo`` pixels (the morphology's reach), so the
mosaic equals the grid computed at once. Change and unassessed (no value on a date) pixels are
polygonised per block and merged across seams; patches below ``mmu_m2`` are dropped. Patches
are clipped to the ``protected`` polygons (each part keeps its share, reserve, level and zone;
with ``scope: all`` the parts outside are reported too), typed by the ``model``
(:mod:`rs.change.typing_model`, loaded with skops and its trusted types; without one the type
is ``unclassified``), and patches typed ``not_activity`` are screened out (counted). With a
``previous`` patch layer the field verdicts of persisting patches are carried over and patches
rejected before are not reported again (:mod:`rs.change.verification`).

Outputs: ``change.tif`` (0 no change, 1 change, 255 no data), ``patches`` (GeoPackage and
GeoParquet: one row per patch part), ``zones`` (CSV/Parquet: per reserve and zone the patch
count, changed area per type and the unassessed area), and per reported patch
``thumb_<patch_id>_before/after`` PNGs (true colour, one stretch for both dates, outline drawn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from rs.products.base import Needs, OneOutput, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    import geopandas as gpd
    from affine import Affine

    from rs.change.detect import ChangeModel
    from rs.pipeline.blocks import BlockResult
    from rs.pipeline.context import StepContext

__all__ = ["PRODUCT", "RedlineSpec"]

_NODATA = 255
#: Rows x columns of one block task when the spec sets no ``dask.block_size``. The change
#: decision needs a halo of a few pixels around every window (the morphology's reach), and a
#: window's halo reaches into the next ring of tiles of the file, each decoded whole: a
#: 1024-pixel window of a 512-tiled file with its halo decodes 16 tiles for its 4. A task
#: reads its segment in full-width strips of STRIP_ROWS rows through one open dataset per file,
#: so each strip decodes only one new row of tiles (the rest are in GDAL's cache from the
#: strip before): (8 + 2) x (16 + 2) tiles for a segment's 8 x 16 (1.4x). Its result, one byte
#: a pixel, is 32 MiB; what a strip reads, about 100 MiB, whatever the size of the grid. The
#: reuse needs GDAL's block cache to hold two rows of a segment's tiles of both files, about
#: 250 MiB per worker thread for 6-band float32 composites in 512-pixel tiles (GDAL_CACHEMAX;
#: GDAL's default is 5 % of the RAM): with less, tiles are decoded again, with the same result.
SEGMENT = (8192, 4096)
#: Rows of one read of a segment (see :data:`SEGMENT`)
STRIP_ROWS = 512


class RedlineSpec(StepSpec):
    """Typed human-activity change patches in protected areas (see the module)."""

    kind: Literal["redline-change"]
    before: OneOutput = Field(description="composite step of the earlier period ('step@period')")
    after: OneOutput = Field(description="composite step of the later period ('step@period')")
    layer: str = Field(default="composite", description="the composite output of both steps")
    protected: str = Field(description="vector file of protected polygons (red lines, reserves)")
    name_column: str = "name"
    zone_column: str = "zone"
    level_column: str | None = Field(default="level", description="None: no level attribute")
    scope: Literal["protected", "all"] = Field(
        default="protected", description="'all' also reports the parts outside every polygon")
    method: Literal["irmad", "otsu"] = "irmad"
    alpha: float = Field(default=0.01, gt=0, lt=1, description="IR-MAD test significance")
    mmu_m2: float = Field(default=2000.0, ge=0, description="minimum mapping unit (m²)")
    opening_radius: int = Field(default=1, ge=0)
    closing_radius: int = Field(default=1, ge=0)
    model: str | None = Field(default=None, description="typing model (.skops with its card)")
    previous: str | None = Field(default=None, description="previous run's patch layer (.gpkg)")
    min_overlap: float = Field(default=0.5, gt=0, le=1, description="IoU to carry a verdict")
    thumbnails: bool = True
    max_thumbnails: int = Field(default=500, ge=0, description="largest patches first")

    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("protected", "model", "previous")


def needs(spec: RedlineSpec) -> Needs:
    return Needs(upstream={"before": spec.before, "after": spec.after})


def outputs(spec: RedlineSpec) -> list[str]:
    return ["change.tif", "patches.gpkg", "zones.csv"] + (
        ["thumb_<patch>_before.png", "thumb_<patch>_after.png"] if spec.thumbnails else [])


def _config(spec: RedlineSpec) -> Any:
    from rs.change.detect import DetectConfig

    return DetectConfig(method=spec.method, alpha=spec.alpha, opening_radius=spec.opening_radius,
                        closing_radius=spec.closing_radius, mmu_m2=spec.mmu_m2)


def _block(before: str, after: str, window: tuple[int, int, int, int],
           model: ChangeModel, strip_rows: int | None = None) -> BlockResult:
    """The change classes of ``window`` (0, 1, 255 no data), decided in strips of
    ``strip_rows`` rows (default :data:`STRIP_ROWS`) through one open dataset per file, so a
    strip's halo tiles are still in GDAL's cache from the strip before."""
    from rs.change.detect import BANDS, detect_block
    from rs.load.outputs import band_readers
    from rs.pipeline.blocks import BlockResult

    r0, c0, nr, nc = window
    step = max(1, strip_rows or STRIP_ROWS)
    cls = np.empty((1, nr, nc), np.uint8)
    with (band_readers(before, BANDS).opened() as b, band_readers(after, BANDS).opened() as a):
        for r in range(r0, r0 + nr, step):
            blk = detect_block(b, a, model, (r, c0, min(step, r0 + nr - r), nc))
            cls[0, r - r0:r - r0 + blk.change.shape[0]] = np.where(blk.valid, blk.change,
                                                                   _NODATA)
    return BlockResult(cls)


def task_windows(shape: tuple[int, int],
                 block_size: int | None) -> list[tuple[int, int, int, int]]:
    """The product's task windows: the spec's ``dask.block_size`` squares when set, else
    :data:`SEGMENT` segments (see there)."""
    from rs.products._pairs import windows

    return windows(shape, (block_size, block_size) if block_size else SEGMENT)


def _protected(spec: RedlineSpec) -> gpd.GeoDataFrame:
    """The protected polygons with columns name, level, zone (renamed from the spec's)."""

    from rs.errors import AssetReadError, SpecError
    from rs.load.vectors import read_vector

    try:
        prot = read_vector(spec.protected)
    except Exception as e:  # pyogrio / GDAL errors have no common base class
        raise AssetReadError(f"step {spec.id!r}: cannot read protected polygons "
                             f"{spec.protected}: {e}") from e
    if prot.crs is None:
        raise SpecError(f"step {spec.id!r}: {spec.protected} has no CRS; set one in the file")
    wanted = {spec.name_column: "name", spec.zone_column: "zone"}
    if spec.level_column is not None:
        if spec.level_column in prot.columns or "level_column" in spec.model_fields_set:
            wanted[spec.level_column] = "level"
        else:
            prot["level"] = ""
    missing = [c for c in wanted if c not in prot.columns]
    if missing:
        raise SpecError(f"step {spec.id!r}: {spec.protected} has no column(s) {missing} "
                        f"(columns: {[c for c in prot.columns if c != 'geometry']}); set "
                        "name_column, zone_column or level_column")
    prot = prot.rename(columns=wanted)
    prot["level"] = prot["level"] if "level" in prot.columns else ""
    prot = prot.loc[~prot.geometry.is_empty & prot.geometry.notna()].copy()
    prot["geometry"] = prot.geometry.make_valid()
    for c in ("name", "level", "zone"):
        prot[c] = prot[c].fillna("").astype(str)
    return prot[["name", "level", "zone", "geometry"]]


def build(ctx: StepContext) -> StepSummary:
    import dask
    import shapely
    from affine import Affine

    from rs.change import class_polygons
    from rs.change.detect import BANDS, fit_change, patches_from_pieces
    from rs.change.zones import uncovered_by_zone
    from rs.errors import SpecError
    from rs.export.cog import CogWriter
    from rs.export.raster import RasterBand, raster_asset
    from rs.load.outputs import band_readers
    from rs.pipeline.blocks import BlockTask
    from rs.pipeline.planning import task_key
    from rs.products._pairs import before_after

    spec: RedlineSpec = ctx.spec
    pair = before_after(ctx, spec.layer)
    grid, pa, pb = pair.grid, pair.before_path, pair.after_path
    try:
        before, after = band_readers(pa, BANDS), band_readers(pb, BANDS)
    except KeyError as e:
        raise SpecError(f"step {spec.id!r}: {e.args[0]}; give the composite steps the bands "
                        f"{list(BANDS)}") from e
    protected = _protected(spec)
    model = fit_change(before, after, _config(spec))
    up_b, up_a = pair.before, pair.after
    shared = ctx.runtime.shared(model, f"rs-{spec.id}-model",
                                (up_b.run_key, up_a.run_key, spec.parameters()))
    tasks = []
    for win in task_windows(grid.shape, ctx.runtime.block_size):
        key = task_key(f"rs-{spec.id}", str(pa), str(pb), up_b.run_key, up_a.run_key, win,
                       spec.method, spec.alpha, spec.opening_radius, spec.closing_radius)
        tasks.append(BlockTask(win[0], win[1], dask.delayed(_block, pure=True)(
            str(pa), str(pb), win, shared, dask_key_name=key)))
    t = grid.transform
    change_pieces: list[Any] = []
    hole_pieces: list[Any] = []
    changed_px = valid_px = 0
    band = RasterBand("change", description="0 no change, 1 change")
    path = ctx.out.path("change", "tif")
    tags = {**ctx.tags(), "RS_BEFORE": pair.before.item["id"], "RS_AFTER": pair.after.item["id"]}
    with CogWriter(path, grid, [band], dtype="uint8", nodata=_NODATA, tags=tags) as out:
        for blk in ctx.runtime.compute_blocks(tasks, f"{ctx.out.stem}: {len(tasks)} blocks"):
            cls = blk.data[0]
            out.write_block(blk.row, blk.col, cls)
            changed_px += int((cls == 1).sum())
            valid_px += int((cls != _NODATA).sum())
            where = t @ Affine.translation(blk.col, blk.row)
            polys = class_polygons(cls, where, [1, _NODATA])
            change_pieces.extend(polys[1])
            hole_pieces.extend(polys[_NODATA])
    ctx.out.add(raster_asset("change", path, grid, [band], dtype="uint8", nodata=float(_NODATA)))
    patches = patches_from_pieces(change_pieces, grid.crs, spec.mmu_m2)
    h, w = grid.shape
    extent = shapely.box(*(t @ (0, h)), *(t @ (w, 0)))
    coverage = uncovered_by_zone(hole_pieces, grid.crs, protected, extent=extent)
    return _publish(ctx, spec, before, after, t, model, patches, protected, coverage,
                    changed_px=changed_px, valid_px=valid_px)


def _typing_model(spec: RedlineSpec) -> tuple[Any, dict[str, Any] | None]:
    if spec.model is None:
        return None, None
    from rs.change.typing_model import load_typing_model

    return load_typing_model(spec.model)


def _previous(spec: RedlineSpec) -> gpd.GeoDataFrame | None:
    if spec.previous is None:
        return None

    from rs.errors import AssetReadError
    from rs.load.vectors import read_vector

    try:
        return read_vector(spec.previous)
    except Exception as e:  # pyogrio / GDAL errors have no common base class
        raise AssetReadError(f"step {spec.id!r}: cannot read the previous patch layer "
                             f"{spec.previous}: {e}") from e


def _publish(ctx: StepContext, spec: RedlineSpec, before: dict[str, Any],
             after: dict[str, Any], transform: Affine, model: ChangeModel,
             patches: gpd.GeoDataFrame,
             protected: gpd.GeoDataFrame, coverage: Any, *, changed_px: int,
             valid_px: int) -> StepSummary:
    import pandas as pd

    from rs.change.chain import patch_statistics
    from rs.change.report import (
        assign_types,
        outside_parts,
        typing_features,
        zone_summary,
    )
    from rs.change.typing_model import TYPES
    from rs.change.verification import NOT_ACTIVITY, carry_verdicts
    from rs.change.zones import clip_to_protected
    from rs.export.styles import REDLINE_TYPES
    from rs.export.tables import write_table
    from rs.export.vectors import typed_for_writing, write_vector

    cols = ("name", "level", "zone")
    parts = clip_to_protected(patches, protected, columns=cols)
    if spec.scope == "all":
        parts = pd.concat([parts, outside_parts(patches, protected, cols)], ignore_index=True)
    reported = patches.loc[patches["patch_id"].isin(parts["patch_id"])]
    typer, card = _typing_model(spec)
    types = assign_types(typing_features(reported, before, after, transform), typer)
    types["patch_id"] = reported["patch_id"].to_numpy()
    parts = parts.merge(types, on="patch_id", how="left")
    screened = parts["type"] == NOT_ACTIVITY
    n_screened = int(parts.loc[screened, "patch_id"].nunique())
    parts = parts.loc[~screened].reset_index(drop=True)
    parts = patch_statistics(parts, before, after, transform, model)
    parts = carry_verdicts(parts, _previous(spec), min_overlap=spec.min_overlap)
    (b,), (a,) = ctx.upstream["before"], ctx.upstream["after"]
    parts["period_before"] = f"{b.period.start.isoformat()}/{b.period.end.isoformat()}"
    parts["period_after"] = f"{a.period.start.isoformat()}/{a.period.end.isoformat()}"
    parts["part"] = parts.groupby("patch_id").cumcount().astype("int64") + 1
    thumbs = _thumbnails(ctx, spec, parts, before, after, transform)
    parts["thumbnail_before"] = [thumbs.get(p, ("", ""))[0] for p in parts["patch_id"]]
    parts["thumbnail_after"] = [thumbs.get(p, ("", ""))[1] for p in parts["patch_id"]]
    first = ["patch_id", "part", "reserve", "level", "zone", "type", "confidence", "area_m2",
             "patch_area_m2", "share", "period_before", "period_after"]
    geom = parts.geometry.name
    rest = [c for c in parts.columns if c not in first and c != geom]
    parts = parts[[*first, *rest, geom]]
    parts["previous_patch_id"] = parts["previous_patch_id"].astype("string")
    typed, schema = typed_for_writing(parts)
    ctx.out.add(*write_vector(typed, ctx.out.staging, f"{ctx.out.stem}_patches", key="patches",
                              layer="redline_patches", schema=schema,
                              geometry_type="MultiPolygon", title="typed change patches",
                              style=REDLINE_TYPES))
    zones = zone_summary(parts, coverage, TYPES)
    ctx.out.add(*write_table(zones, ctx.out.staging, f"{ctx.out.stem}_zones", key="zones",
                             title="change per reserve and zone"))
    by_type = parts.drop_duplicates("patch_id")["type"].value_counts()
    props: dict[str, Any] = {
        "rs:method": spec.method,
        "rs:threshold": float(model.threshold),
        "rs:patches": int(parts["patch_id"].nunique()),
        "rs:patches_by_type": {str(k): int(v) for k, v in by_type.items()},
        "rs:screened_not_activity": n_screened,
        "rs:changed_m2": float(parts["area_m2"].sum()),
        "rs:uncovered_m2": float(coverage["uncovered_m2"].sum()),
        "rs:changed_pixels": changed_px,
    }
    if card is not None:
        props["rs:typing_model"] = {k: card.get("model", {}).get(k) for k in ("kind", "version")}
        props["rs:typing_model"]["sha256"] = card.get("sha256") or card.get("file", {}).get(
            "sha256")
    return StepSummary(layers=[], valid_pixels=valid_px, properties=props)


PRODUCT = ProductDef(kind="redline-change", spec=RedlineSpec, needs=needs, build=build,
                     outputs=outputs)


def _thumbnails(ctx: StepContext, spec: RedlineSpec, parts: gpd.GeoDataFrame,
                before: dict[str, Any], after: dict[str, Any], transform: Affine
                ) -> dict[int, tuple[str, str]]:
    """Write the before/after PNGs of the largest ``max_thumbnails`` reported patches (whole
    patch outline: the union of its parts); file names by patch id."""
    if not spec.thumbnails or not len(parts):
        return {}
    import shapely

    from rs.export.stac_items import file_asset
    from rs.export.thumbnails import write_thumbnails

    whole = parts.dissolve(by="patch_id", aggfunc={"patch_area_m2": "first"})
    whole = whole.sort_values("patch_area_m2", ascending=False).head(spec.max_thumbnails)
    out: dict[int, tuple[str, str]] = {}
    for pid, geom in zip(whole.index, whole.geometry, strict=True):
        keys = (f"thumb_{pid}_before", f"thumb_{pid}_after")
        pb, pa = ctx.out.path(keys[0], "png"), ctx.out.path(keys[1], "png")
        thumb = write_thumbnails(before, after, transform, shapely.make_valid(geom), pb, pa)
        extra = {"rs:stretch": list(thumb.stretch), "rs:patch_id": int(pid)}
        for key, p, when in ((keys[0], pb, "before"), (keys[1], pa, "after")):
            ctx.out.add(file_asset(key, p, "image/png", roles=["thumbnail"],
                                   title=f"patch {pid} {when}", extra=extra))
        out[int(pid)] = (pb.name, pa.name)
    return out
