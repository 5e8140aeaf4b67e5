"""``rs train-change``: retrain the change-patch typing model on a user's labelled patches.

Registered on the ``rs`` group in :mod:`rs.cli` (which owns ``sys.exit``: failures go through
its ``_fail``, so exit codes follow :data:`rs.errors.EXIT_CODES`). Features come from
:mod:`rs.change.features`, training, the card and the files from :mod:`rs.change.typing_model`,
verified layers (``verification`` column) through :func:`rs.change.verification.training_rows`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from affine import Affine
    from rich.console import Console

__all__ = ["train_change"]


@click.command("train-change")
@click.argument("labels", metavar="LABELS.gpkg", type=click.Path(path_type=Path))
@click.option("--out", "-o", "out", required=True, type=click.Path(path_type=Path),
              help="Model file to write (<name>.skops, with <name>.card.json and .card.md).")
@click.option("--before", type=click.Path(path_type=Path),
              help="Raster of the before period (bands named ndvi, ndbi, bsi, mndwi, "
                   "brightness, or blue, green, red, nir, swir16) to compute features from.")
@click.option("--after", type=click.Path(path_type=Path), help="Raster of the after period.")
@click.option("--layer", default=None, help="Layer of LABELS to read (default: the first).")
@click.option("--type-column", default="type", show_default=True,
              help="Column holding each patch's human-activity type.")
@click.option("--folds", type=int, default=5, show_default=True,
              help="Cross-validation folds (at most the smallest type's count).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
def train_change(labels: Path, out: Path, before: Path | None, after: Path | None,
                 layer: str | None, type_column: str, folds: int, seed: int) -> None:
    """Retrain the change-patch typing model on labelled patches in LABELS.gpkg.

    LABELS holds polygons with a TYPE column and either the feature columns
    (<index>_before, <index>_after for ndvi, ndbi, bsi, mndwi, brightness; shape features are
    computed from the polygons when missing) or, with --before and --after, rasters to
    compute them from. A layer with a `verification` column (a verified patch layer) trains
    on its confirmed patches (type, or type_verified) and rejected ones (not_activity).
    Writes the model (skops) with its card and prints cross-validated metrics.
    """
    from rs.cli import _fail, _out
    from rs.errors import RsError

    try:
        _run(labels, out, before=before, after=after, layer=layer, type_column=type_column,
             folds=folds, seed=seed, console=_out)
    except RsError as e:
        _fail(e)


def _read_layer(path: Path, layer: str | None) -> gpd.GeoDataFrame:

    from rs.errors import AssetReadError
    from rs.load.vectors import read_vector

    if not path.is_file():
        raise AssetReadError(f"{path}: no such file")
    try:
        return read_vector(path, layer)
    except Exception as e:  # pyogrio / GDAL errors have no common base class
        raise AssetReadError(f"cannot read {path}"
                             + (f" layer {layer!r}" if layer else "") + f": {e}") from e


def _read_raster(path: Path) -> tuple[dict[str, np.ndarray], Affine, object]:
    import rasterio

    from rs.errors import AssetReadError, SpecError

    try:
        with rasterio.open(path) as ds:
            names = [(d or f"band{i + 1}").strip().lower() for i, d in
                     enumerate(ds.descriptions)]
            if len(set(names)) != len(names):
                raise SpecError(f"{path}: band descriptions are not unique: {names}")
            data = ds.read(masked=True).astype("float64").filled(float("nan"))
            return dict(zip(names, data, strict=True)), ds.transform, ds.crs
    except rasterio.errors.RasterioError as e:
        raise AssetReadError(f"cannot read raster {path}: {e}") from e


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.crs is None or not gdf.crs.is_geographic:
        return gdf
    return gdf.to_crs(gdf.estimate_utm_crs())


def _features(gdf: gpd.GeoDataFrame, before: Path | None, after: Path | None
              ) -> pd.DataFrame:
    import pandas as pd

    from rs.change.features import SHAPE_FEATURES, features_from_columns, patch_features
    from rs.errors import SpecError

    shapes = _metric(gdf)
    if before is None and after is None:
        return features_from_columns(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)),
                                     list(shapes.geometry))
    if before is None or after is None:
        raise SpecError("give both --before and --after (or neither)")
    b, tb, crs_b = _read_raster(before)
    a, ta, crs_a = _read_raster(after)
    if tb != ta or next(iter(b.values())).shape != next(iter(a.values())).shape:
        raise SpecError(f"{before} and {after} are not on one pixel grid")
    if crs_b != crs_a:
        raise SpecError(f"{before} ({crs_b}) and {after} ({crs_a}) have different CRSs")
    if gdf.crs is None:
        raise SpecError("the labelled patches have no CRS; cannot place them on the rasters")
    geoms = gdf.to_crs(crs_b).geometry if crs_b is not None else gdf.geometry
    from rs.change.features import shape_features

    feats = patch_features(list(geoms), b, a, tb)
    shp = pd.DataFrame([shape_features(g) for g in shapes.geometry], columns=SHAPE_FEATURES)
    feats[list(SHAPE_FEATURES)] = shp.to_numpy()
    feats.index = gdf.index
    return feats


def _run(labels: Path, out: Path, *, before: Path | None, after: Path | None,
         layer: str | None, type_column: str, folds: int, seed: int, console: Console) -> None:
    import pandas as pd
    import shapely

    from rs.change.typing_model import save_typing_model, train_typing_model
    from rs.change.verification import training_rows
    from rs.errors import SpecError

    if out.suffix.lower() != ".skops":
        raise SpecError(f"--out {out}: name a .skops file")
    if folds < 2:
        raise SpecError("--folds must be at least 2")
    gdf = _read_layer(labels, layer)
    if "verification" in gdf.columns:
        gdf = training_rows(gdf, type_column=type_column)
        type_column = "type"
        console.print(f"verified layer: {len(gdf)} confirmed/rejected patches used")
    if type_column not in gdf.columns:
        raise SpecError(f"{labels} has no column {type_column!r} (columns: "
                        f"{', '.join(c for c in gdf.columns if c != 'geometry')})")
    gdf = gdf.loc[gdf[type_column].notna() & (gdf[type_column].astype(str).str.strip() != "")]
    if gdf.empty:
        raise SpecError(f"{labels}: no labelled patch")
    gdf = gdf.set_geometry(shapely.make_valid(gdf.geometry.values))
    feats = _features(gdf, before, after)
    table = pd.concat([feats, gdf[type_column].astype(str).rename("type")], axis=1)
    result = train_typing_model(table, n_splits=folds, seed=seed, source=labels.name,
                                created=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
    files = save_typing_model(result.model, out, result.card)
    m = result.metrics
    console.print(f"{m['n']} patches, {len(m['per_type'])} types; {m['splitter']} "
                  f"{m['n_splits']} folds, seed {m['seed']}")
    console.print(f"accuracy {m['accuracy']:.3f}  macro F1 {m['macro_f1']:.3f}  mean confidence "
                  f"right {_fmt(m['confidence_right'])} wrong {_fmt(m['confidence_wrong'])}")
    for k, v in m["per_type"].items():
        console.print(f"  {k:<22} precision {v['precision']:.3f}  recall {v['recall']:.3f}  "
                      f"n {v['support']}")
    for p in files:
        console.print(f"wrote {p}")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"
