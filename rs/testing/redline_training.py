"""Train the shipped typing model on synthetic red-line worlds (never on OSCD, whose labels are
non-commercial):

    python -m rs.testing.redline_training --out models/redline_typing.skops

For each training layout seed, a red-line world (:mod:`rs.testing.redline_world`) with its own
landscape seed is generated and run through the same chain as ``pipelines/redline.yaml``
(composites of the two periods, the ``redline-change`` product with ``scope: all`` and no
model), so the model learns from *detected* patches, with the shapes and mixed pixels
detection produces. Each detected patch is labelled from the world's truth: the planted patch
it overlaps most, when that is human activity covering at least :data:`MIN_OVERLAP` of the
patch, gives its type; anything else (confusers: phenology, thin cloud, water level; false
alarms) is ``not_activity``. The demo world (landscape seed 42, layout seed 0) is never used,
so the demo and the tests see an unseen world.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from rs.load.vectors import read_vector

__all__ = ["MIN_OVERLAP", "TRAIN_LAYOUTS", "label_patches", "main", "training_table"]

#: layout seeds (and landscape seeds ``100 + layout``) of the training worlds
TRAIN_LAYOUTS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
#: share of a detected patch a planted activity must cover to lend it its type
MIN_OVERLAP = 0.25


def label_patches(patches: gpd.GeoDataFrame, truth: gpd.GeoDataFrame) -> pd.Series:
    """Per patch: the type of the planted human activity covering most of it (at least
    :data:`MIN_OVERLAP` of its area), else ``not_activity``."""
    from rs.change.verification import NOT_ACTIVITY

    truth = truth.to_crs(patches.crs)
    tg = np.asarray(truth.geometry.values, dtype=object)
    tree = shapely.STRtree(tg)
    labels = []
    for g in patches.geometry:
        best, label = 0.0, NOT_ACTIVITY
        for j in tree.query(g, predicate="intersects"):
            inter = shapely.area(shapely.intersection(g, tg[j])) / g.area
            if inter > best:
                best = inter
                row = truth.iloc[int(j)]
                label = str(row["event_type"]) if bool(row["human_activity"]) else NOT_ACTIVITY
        labels.append(label if best >= MIN_OVERLAP else NOT_ACTIVITY)
    return pd.Series(labels, index=patches.index, name="type")


def _spec(world: Path, protected: Path, out: Path) -> dict[str, object]:
    from rs.testing.redline_world import REDLINE_PERIODS

    return {
        "name": "train",
        "aoi": str(protected.parent / "demo_region.geojson"),
        "sources": {"s2": {"embedded": str(world), "collections": ["sentinel-2-l2a"]}},
        "periods": {k: {"start": a.isoformat(), "end": b.isoformat()}
                    for k, (a, b) in REDLINE_PERIODS.items()},
        "steps": [
            {"id": "composite", "kind": "composite",
             "bands": ["blue", "green", "red", "nir", "swir16", "swir22"], "indices": [],
             "quicklook": False},
            {"id": "redline", "kind": "redline-change", "periods": ["after"],
             "before": "composite@before", "after": "composite@after",
             "protected": str(protected), "scope": "all", "thumbnails": False},
        ],
        "on_scene_error": "skip",
        "output": str(out),
    }


def training_table(work: Path, aoi_dir: Path, layouts: Sequence[int] = TRAIN_LAYOUTS
                   ) -> pd.DataFrame:
    """Detected patches of the training worlds with their features and ``type`` label."""
    from rs.change.detect import BANDS
    from rs.change.report import typing_features
    from rs.load.outputs import band_readers, raster_info
    from rs.pipeline.runner import run_pipeline
    from rs.pipeline.spec import parse_spec
    from rs.testing.redline_world import (
        generate_redline_world,
        redline_truth,
        redline_world_config,
    )

    tables = []
    for layout in layouts:
        config = redline_world_config(seed=100 + layout, layout_seed=layout)
        world = work / f"world-{layout}"
        generate_redline_world(world, config)
        out = work / f"out-{layout}"
        spec = parse_spec(_spec(world, aoi_dir / "demo_redlines.geojson", out), base=work)
        run_pipeline(spec)
        (layer,) = out.glob("*_redline_*_patches.gpkg")
        parts = read_vector(layer)
        whole = parts.dissolve(by="patch_id").reset_index()
        (cb,) = out.glob("*_composite_before*_composite.tif")
        (ca,) = out.glob("*_composite_after*_composite.tif")
        grid, _ = raster_info(cb)
        feats = typing_features(whole, band_readers(cb, BANDS), band_readers(ca, BANDS),
                                grid.transform)
        feats["type"] = label_patches(whole, redline_truth(config)).to_numpy()
        feats["layout_seed"] = layout
        tables.append(feats)
    return pd.concat(tables, ignore_index=True)


def main(argv: Sequence[str] | None = None) -> None:
    import tempfile

    from rs.change.typing_model import save_typing_model, train_typing_model

    p = argparse.ArgumentParser(prog="python -m rs.testing.redline_training",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="model file (.skops)")
    p.add_argument("--aoi", type=Path, default=Path("aoi"), help="folder of the demo AOIs")
    p.add_argument("--layouts", type=int, nargs="+", default=list(TRAIN_LAYOUTS))
    p.add_argument("--work", type=Path, default=None, help="keep the worlds here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rs-train-") as tmp:
        work = args.work or Path(tmp)
        table = training_table(work, args.aoi.resolve(), args.layouts)
    counts = table["type"].value_counts()
    print(counts.to_string())
    source = (f"synthetic red-line worlds rs.testing.redline_world, layout seeds "
              f"{args.layouts} (landscape seeds 100 + layout); detected patches labelled by "
              f"planted truth (MIN_OVERLAP {MIN_OVERLAP}); no OSCD data")
    result = train_typing_model(table.drop(columns=["layout_seed"]), n_splits=5, seed=0,
                                name="redline-typing", source=source,
                                created=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
    m = result.metrics
    print(f"{m['n']} patches; CV accuracy {m['accuracy']:.3f} macro F1 {m['macro_f1']:.3f}")
    for f in save_typing_model(result.model, args.out, result.card):
        print(f"wrote {f}")


if __name__ == "__main__":
    main()
