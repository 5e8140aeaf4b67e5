"""Sentinel Hub as an optical source: Catalog API search, Process API pixels, local STAC items.

:func:`fetch_items` does, through sentinelhub-py:

1. **Credentials** (``rs.sources._sh_config``): an ``SHConfig`` from ``SH_CLIENT_ID`` /
   ``SH_CLIENT_SECRET`` or sentinelhub's config file (``config_profile``), the base and token
   URLs from the options. One OAuth session (client credentials) serves the catalog and the
   process requests. The secret goes to sentinelhub-py only: rs never prints, logs or stores
   it, and its messages name the variables, not values.
2. **Search**: ``SentinelHubCatalog.search`` over the AOI and dates (paged by the service's
   ``next``), optionally ``eo:cloud_cover <= max_cloud_cover``. Features less than
   :data:`SCENE_GAP` apart (the granules of one datatake) are one scene.
3. **Pixels**: per scene not yet cached, per tile of the AOI (``rs.sources._sh_files``), one
   ``SentinelHubRequest`` per resolution (10 m: B02 B03 B04 B08; 20 m: B11 B12 SCL) in DN,
   ``harmonizeValues: false`` (the DN as ESA wrote them, so the processing baseline decides the
   -0.1 offset in ``rs.load._scale`` as for any other Sentinel-2 L2A item), within a second of
   the scene's time. ``SentinelHubDownloadClient`` runs them (``max_threads`` at a time): a 429
   waits for the service's ``Retry-After`` (else ``retry_wait``), a 5xx or a lost connection
   is retried with a growing wait, ``retries`` times.
4. **Files**: one GeoTIFF per band and the scene's STAC item JSON, written last, under
   ``<cache>/sentinelhub/<key>/<scene id>/``; the key hashes the service, collection, grid and
   tiles, so a scene already fetched for the same area is read from there, not requested again.

The items returned (sorted by time, then id) point at those files and load like any
Sentinel-2 L2A item (Earth Search v1 asset keys).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pystac

from rs.errors import SourceError
from rs.sources._sh_config import SentinelHubOptions, rate_limits, sh_config, sh_errors
from rs.sources._sh_files import (
    BANDS,
    SceneFiles,
    Tile,
    extent,
    plan_tiles,
    save_item,
    scene_item,
)

if TYPE_CHECKING:
    from sentinelhub import DataCollection, SentinelHubDownloadClient, SHConfig
    from shapely.geometry.base import BaseGeometry

__all__ = ["SCENE_GAP", "Scene", "SentinelHubOptions", "evalscript", "fetch_items",
           "group_features", "sh_config"]

#: catalog features closer in time than this are one acquisition (one datatake's granules)
SCENE_GAP = timedelta(minutes=5)
#: bump when the requests or files change, so cached scenes are fetched again
_VERSION = "1"
_KEEP = ("platform", "constellation", "instruments", "gsd")  # catalog properties kept


@dataclass(frozen=True)
class Scene:
    """One acquisition: the catalog features within :data:`SCENE_GAP` of each other."""

    id: str
    start: datetime
    end: datetime
    properties: dict[str, Any] = field(hash=False)
    footprint: dict[str, Any] | None = field(hash=False)


def _collection(name: str, base_url: str) -> DataCollection:
    """The sentinelhub collection ``name`` bound to the service at ``base_url``."""
    from sentinelhub import DataCollection

    if name != "sentinel-2-l2a":
        raise SourceError(f"Sentinel Hub collection {name!r} is not supported: use sentinel-2-l2a")
    tag = hashlib.sha256(base_url.encode()).hexdigest()[:10]
    return DataCollection.SENTINEL2_L2A.define_from(f"RS_S2L2A_{tag}", service_url=base_url)


def _when(feature: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(feature["properties"]["datetime"]).replace("Z", "+00:00"))


def group_features(features: Sequence[dict[str, Any]]) -> list[Scene]:
    """Catalog features as scenes: sorted by time, a gap over :data:`SCENE_GAP` starts a new
    scene. A scene of one feature keeps its id; of several, ``<first id>+<n more>``, with all
    ids in ``sentinelhub:ids``. Cloud cover is the largest of the features'."""
    from shapely.geometry import mapping, shape
    from shapely.ops import unary_union

    groups: list[list[dict[str, Any]]] = []
    for f in sorted(features, key=lambda f: (_when(f), str(f["id"]))):
        if groups and _when(f) - _when(groups[-1][-1]) <= SCENE_GAP:
            groups[-1].append(f)
        else:
            groups.append([f])
    scenes = []
    for g in groups:
        first = g[0]
        props = {k: first["properties"][k] for k in _KEEP if k in first["properties"]}
        clouds = [f["properties"]["eo:cloud_cover"] for f in g
                  if f["properties"].get("eo:cloud_cover") is not None]
        if clouds:
            props["eo:cloud_cover"] = max(float(c) for c in clouds)
        sid = str(first["id"]) if len(g) == 1 else f"{first['id']}+{len(g) - 1}"
        if len(g) > 1:
            props["sentinelhub:ids"] = [str(f["id"]) for f in g]
        geoms = [shape(f["geometry"]) for f in g if f.get("geometry")]
        foot = mapping(unary_union(geoms)) if geoms else None
        scenes.append(Scene(sid, _when(first), _when(g[-1]), props, foot))
    return scenes


def evalscript(band_ids: Sequence[str]) -> str:
    """An evalscript returning ``band_ids`` as uint16 DN, 0 where Sentinel Hub has no data."""
    outs = ", ".join(f"s.{b}" for b in band_ids)
    zeros = ", ".join("0" for _ in band_ids)
    return f"""//VERSION=3
function setup() {{
  return {{
    input: [{{bands: {json.dumps([*band_ids, "dataMask"])}, units: "DN"}}],
    output: {{id: "default", bands: {len(band_ids)}, sampleType: "UINT16"}}
  }};
}}
function evaluatePixel(s) {{
  return s.dataMask ? [{outs}] : [{zeros}];
}}
"""


def _utm(aoi: BaseGeometry) -> tuple[int, BaseGeometry]:
    """The EPSG code of the AOI centroid's UTM zone and the AOI in it."""
    import shapely
    from pyproj import Transformer
    from sentinelhub import CRS

    c = aoi.centroid
    epsg = int(CRS.get_utm_from_wgs84(c.x, c.y).epsg)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    return epsg, shapely.transform(aoi, to_utm.transform, interleaved=False)


def _search(
    config: SHConfig,
    client: SentinelHubDownloadClient,
    collection: DataCollection,
    aoi: BaseGeometry,
    start: date,
    end: date,
    max_cloud_cover: float | None,
) -> list[dict[str, Any]]:
    from sentinelhub import CRS, Geometry, SentinelHubCatalog

    catalog = SentinelHubCatalog(config=config)
    catalog.client = client  # our session and retry settings
    found = catalog.search(
        collection,
        time=(datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)),
        geometry=Geometry(aoi, CRS.WGS84),
        filter=None if max_cloud_cover is None else f"eo:cloud_cover <= {max_cloud_cover}",
    )
    return list(found)


def _fetch_scene(
    config: SHConfig,
    client: SentinelHubDownloadClient,
    collection: DataCollection,
    scene: Scene,
    tiles: Sequence[Tile],
    epsg: int,
    files: SceneFiles,
    max_threads: int,
) -> None:
    """Request every tile of ``scene`` (one request per resolution) into ``files``."""
    from sentinelhub import CRS, BBox, MimeType, SentinelHubRequest

    window = (scene.start - timedelta(seconds=1), scene.end + timedelta(seconds=1))
    data = SentinelHubRequest.input_data(
        collection, time_interval=window, other_args={"processing": {"harmonizeValues": False}}
    )
    todo = []
    for tile in tiles:
        for res in (10, 20):
            bands = [b for b in BANDS if b.res == res]
            req = SentinelHubRequest(
                evalscript=evalscript([b.sh_id for b in bands]),
                input_data=[data],
                responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
                bbox=BBox((tile.minx, tile.miny, tile.maxx, tile.maxy), crs=CRS(epsg)),
                size=tile.size(res),
                config=config,
            )
            todo.append((tile, bands, req.download_list[0]))
    step = 2 * max_threads  # answers held in memory at once
    for i in range(0, len(todo), step):
        chunk = todo[i : i + step]
        answers = client.download([r for _, _, r in chunk], max_threads=max_threads)
        for (tile, bands, _), arr in zip(chunk, answers, strict=True):
            files.write(tile, bands, np.asarray(arr))


def _safe(name: str) -> str:
    """A scene id from the catalogue as one file-name part: never a path, '.' or '..'."""
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", name)[:200]
    return safe if safe.strip(".") else "_" * max(1, len(safe))


def fetch_items(
    opts: SentinelHubOptions,
    aoi: BaseGeometry,
    start: date,
    end: date,
    cache: Path,
    stage: Callable[[str], None] = lambda _: None,
) -> list[pystac.Item]:
    """Scenes of ``opts.collection`` over ``aoi`` (lon/lat) sensed ``start``..``end``
    (inclusive days), fetched into ``cache`` (see the module docstring) as STAC items.

    Raises:
        SourceError: no or refused credentials, a bad config file or a refused request.
        SourceUnavailableError: Sentinel Hub did not answer, even after ``retries``.
    """
    from sentinelhub import SentinelHubDownloadClient, SentinelHubSession

    config = sh_config(opts)
    with sh_errors(config, "sign-in"):
        session = SentinelHubSession(config=config)
    client = SentinelHubDownloadClient(
        config=config, session=session, default_retry_time=opts.retry_wait
    )
    collection = _collection(opts.collection, config.sh_base_url)
    stage(f"Sentinel Hub: searching {opts.collection} from {start} to {end}")
    with sh_errors(config, "catalog search"), rate_limits("catalog search"):
        features = _search(config, client, collection, aoi, start, end, opts.max_cloud_cover)
    scenes = group_features(features)
    if not scenes:
        return []
    epsg, aoi_utm = _utm(aoi)
    tiles = plan_tiles(aoi_utm, epsg, opts.tile_size)
    key = json.dumps([_VERSION, config.sh_base_url, opts.collection, epsg,
                      [(t.minx, t.miny, t.maxx, t.maxy) for t in tiles]])
    root = cache / "sentinelhub" / hashlib.sha256(key.encode()).hexdigest()[:16]
    items = []
    for n, scene in enumerate(scenes, 1):
        folder = root / _safe(scene.id)
        path = folder / f"{_safe(scene.id)}.json"
        if path.is_file() and all((folder / f"{b.key}.tif").is_file() for b in BANDS):
            items.append(pystac.Item.from_file(str(path)))
            continue
        stage(f"Sentinel Hub: scene {n}/{len(scenes)} {scene.id}, {2 * len(tiles)} requests")
        files = SceneFiles(folder, extent(tiles), epsg)
        done = False
        try:
            what = f"Process API requests for scene {scene.id}"
            with sh_errors(config, what), rate_limits(what):
                _fetch_scene(config, client, collection, scene, tiles, epsg, files,
                             opts.max_threads)
            done = True
        finally:
            files.close(keep=done)
        item = scene_item(scene.id, scene.start, scene.properties, scene.footprint, files, epsg)
        save_item(item, path)
        items.append(item)
    return sorted(items, key=lambda i: (str(i.datetime), i.id))
