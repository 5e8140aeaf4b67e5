"""Run a pipeline spec end to end: AOI -> search -> load -> product -> files + STAC items.

Outputs are first written into a staging folder inside the output folder and moved into place
only when every file of the run exists, so a failed run leaves no partial product behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rs import __version__
from rs.aoi import Aoi
from rs.errors import NoScenesError
from rs.export._atomic import atomic_path, check_writable
from rs.export.stac_items import OutputAsset, output_item, write_output_item
from rs.load import SkippedScene, check_assets
from rs.pipeline.cluster import dask_client
from rs.pipeline.ledger import find_up_to_date, run_key
from rs.pipeline.products import load_bands, tiled_composite
from rs.pipeline.progress import QuietReporter, Reporter
from rs.pipeline.source import open_source, resolve_modifier
from rs.pipeline.spec import PipelineSpec
from rs.pipeline.writing import write_composite
from rs.sources.stac import search_items

__all__ = ["RunResult", "run_pipeline"]


@dataclass
class RunResult:
    """What a run did: ``status`` is ``"done"`` or ``"up-to-date"``."""

    status: str
    output_dir: Path
    item_path: Path | None = None
    files: list[Path] = field(default_factory=list)
    scenes_used: list[str] = field(default_factory=list)
    scenes_skipped: list[dict[str, str]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    report_path: Path | None = None


def run_pipeline(
    spec: PipelineSpec,
    *,
    scheduler: str | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> RunResult:
    """Run ``spec``; raise an :class:`rs.errors.RsError` subclass on any user-facing failure."""
    rep = reporter or QuietReporter()
    started = dt.datetime.now(dt.UTC)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    out_dir = check_writable(spec.output)
    aoi_obj = Aoi.load(spec.aoi)
    aoi_gdf = aoi_obj.gdf
    aoi = aoi_obj.union
    product = spec.product
    bands = load_bands(product)
    crs = product.crs or aoi_obj.utm_crs().to_string()
    rep.stage(
        f"AOI {spec.aoi_label}: {len(aoi_gdf)} polygon(s), "
        f"output grid {crs} at {product.resolution:g} m"
    )

    with open_source(spec.source, rep) as url:
        rep.stage(f"searching {', '.join(spec.source.collections)} at {url}")
        t_search = time.perf_counter()
        items = search_items(
            url,
            spec.source.collections,
            intersects=aoi,
            datetime=spec.time.as_stac(),
            filters=spec.source.filters,
            max_items=spec.source.max_items,
            timeout=spec.source.timeout,
            retries=spec.source.retries,
            modifier=resolve_modifier(spec.source.modifier),
        )
        timings["search_s"] = time.perf_counter() - t_search
        if not items:
            raise NoScenesError(
                f"no scenes found for {spec.aoi_label} in {', '.join(spec.source.collections)} "
                f"between {spec.time.start} and {spec.time.end}: widen the dates, relax the "
                "filters or check that the AOI lies inside the collection's coverage"
            )
        usable, skipped = check_assets(
            items, bands, on_error=spec.on_scene_error, with_mask=bool(product.mask)
        )
        skipped_rows = [_skip_row(s) for s in skipped]
        for s in skipped_rows:
            rep.stage(f"[yellow]skipped scene {s['scene']}[/]: {s['reason']}")
        if not usable:
            raise NoScenesError(
                f"all {len(items)} scenes found for {spec.aoi_label} were unreadable "
                f"(see the skipped list): {skipped_rows[0]['reason'] if skipped_rows else ''}"
            )
        scene_ids = [i.id for i in usable]
        item_id = f"{spec.name}-{product.kind}-{spec.time.start:%Y%m%d}-{spec.time.end:%Y%m%d}"
        params = product.model_dump(mode="json")
        key_params = {"product": params, "crs": crs, "aoi": aoi.wkt}
        key = run_key(key_params, scene_ids, __version__)
        if not force and (done := find_up_to_date(out_dir, item_id, key)) is not None:
            rep.stage(
                f"{item_id} is up to date with {len(scene_ids)} scenes: "
                "nothing to do (use --force to rebuild)"
            )
            res = RunResult(
                status="up-to-date",
                output_dir=out_dir,
                item_path=out_dir / "items" / f"{item_id}.json",
                scenes_used=scene_ids,
                scenes_skipped=skipped_rows,
                files=[(out_dir / "items" / a["href"]).resolve() for a in done["assets"].values()],
            )
            res.report_path = _write_report(spec, res, started, timings, len(items))
            return res
        rep.stage(f"{len(usable)} scenes to composite ({len(skipped_rows)} skipped)")
        staging = out_dir / f".rs-staging-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            with dask_client(
                scheduler,
                workers=spec.dask.workers,
                threads_per_worker=spec.dask.threads_per_worker,
                memory_limit=spec.dask.memory_limit,
                processes=spec.dask.processes,
                timeout=spec.dask.connect_timeout,
            ) as client:
                t1 = time.perf_counter()
                tiled = tiled_composite(usable, product, aoi, crs, on_error=spec.on_scene_error)
                result = write_composite(
                    client, tiled, product, name=spec.name, folder=staging, reporter=rep
                )
                timings["compute_s"] = time.perf_counter() - t1
            late = [_skip_row(s) for s in result.skipped]
            for row in late:
                rep.stage(f"[yellow]skipped scene {row['scene']}[/]: {row['reason']}")
            if late:  # the product holds fewer scenes: its run key must say so
                scene_ids = [i for i in scene_ids if i not in {r["scene"] for r in late}]
                if not scene_ids:
                    raise NoScenesError(
                        f"all {len(usable)} scenes for {spec.aoi_label} have unreadable pixel "
                        f"data (see above), e.g. {late[0]['scene']}: {late[0]['reason']}"
                    )
                key = run_key(key_params, scene_ids, __version__)
            skipped_rows += late
            final = [_moved(a, staging, out_dir) for a in result.assets]
            item = output_item(
                out_dir,
                item_id=item_id,
                geometry=aoi,
                start=dt.datetime.combine(spec.time.start, dt.time.min, dt.UTC),
                end=dt.datetime.combine(spec.time.end, dt.time.max, dt.UTC),
                assets=final,
                properties={
                    "rs:version": __version__,
                    "rs:run_key": key,
                    "rs:pipeline": spec.name,
                    "rs:parameters": params,
                    "rs:inputs": scene_ids,
                    "rs:skipped": skipped_rows,
                    "rs:source": spec.source.url or f"embedded:{spec.source.embedded}",
                    "processing:software": {"rs": __version__},
                },
            )
            # publish: data files first, the item that describes them last
            for staged, target in zip(result.assets, final, strict=True):
                os.replace(staged.path, target.path)
            item_path = write_output_item(out_dir, item)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            rep.close()

    timings["total_s"] = time.perf_counter() - t0
    # clear_count is defined (0 or more) on every pixel inside the AOI and NaN outside
    aoi_pixels = next(s.valid for s in result.stats if s.name == "clear_count")
    res = RunResult(
        status="done",
        output_dir=out_dir,
        item_path=item_path,
        files=[a.path for a in final],
        scenes_used=scene_ids,
        scenes_skipped=skipped_rows,
        layers=[s.as_dict(aoi_pixels) for s in result.stats],
    )
    res.report_path = _write_report(spec, res, started, timings, len(items))
    return res


def _skip_row(s: SkippedScene) -> dict[str, str]:
    return {"scene": s.item_id, "asset": s.asset, "reason": s.reason}


def _moved(a: OutputAsset, staging: Path, out_dir: Path) -> OutputAsset:
    """``a`` as it will be once moved from ``staging`` into ``out_dir``."""
    target = out_dir / a.path.relative_to(staging)
    return OutputAsset(a.key, target, a.media_type, a.roles, a.title, a.extra)


def _write_report(
    spec: PipelineSpec,
    res: RunResult,
    started: dt.datetime,
    timings: dict[str, float],
    n_found: int,
) -> Path:
    report = {
        "pipeline": spec.name,
        "status": res.status,
        "rs_version": __version__,
        "started": started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "scenes_found": n_found,
        "scenes_used": res.scenes_used,
        "scenes_skipped": res.scenes_skipped,
        "outputs": [str(p.relative_to(res.output_dir)) for p in res.files],
        "layers": res.layers,
        "spec": spec.model_dump(mode="json"),
    }
    path = res.output_dir / "run-report.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return path
