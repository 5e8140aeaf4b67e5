"""Shared test helpers: tiny Sentinel-2-like items on disk and a scripted STAC HTTP server.

Both are real: the items are GeoTIFFs written with rasterio plus pystac Item JSON in the
layout of docs/contracts.md, and :class:`FakeStacApi` is a stdlib ``http.server`` bound to
127.0.0.1 that answers from a script (so tests can make it fail on purpose).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import transform_bounds

from rs.testing.loopback import LoopbackHTTP

COLLECTION = "sentinel-2-l2a"
CRS = "EPSG:32650"
X0, Y0 = 660000.0, 3552000.0  # demo origin (upper-left), docs/contracts.md
PIXEL = 10.0
SIZE = 16  # pixels per side of a tiny tile: 160 m
SPACING = 1000.0  # metres between tile origins along x: tiles never touch


def write_tiny_tif(
    path: Path, x0: float, y0: float, *, value: int = 1000, tags: dict[str, str] | None = None
) -> None:
    """A SIZE x SIZE uint16 tiled GeoTIFF in EPSG:32650 with its upper-left corner at x0, y0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.full((1, SIZE, SIZE), value, dtype="uint16")
    with rasterio.open(
        path, "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="uint16",
        crs=CRS, transform=Affine(PIXEL, 0.0, x0, 0.0, -PIXEL, y0), nodata=0,
        tiled=True, blockxsize=16, blockysize=16,
    ) as dst:
        dst.write(data)
        if tags:
            dst.update_tags(**tags)


def tile_bounds_4326(index: int) -> tuple[float, float, float, float]:
    """Lon/lat bounds of tile ``index`` of :func:`make_world`."""
    x0 = X0 + index * SPACING
    return transform_bounds(CRS, "EPSG:4326", x0, Y0 - SIZE * PIXEL, x0 + SIZE * PIXEL, Y0)


@dataclass(frozen=True)
class TileSpec:
    """One item of the tiny world: tile position along x, date (YYYYMMDD), cloud cover."""

    index: int
    date: str
    cloud: float
    platform: str = "sentinel-2b"

    @property
    def item_id(self) -> str:
        letter = "A" if self.platform.endswith("a") else "B"
        return f"S2{letter}_50SPA_{self.date}_0_L2A"

    @property
    def datetime(self) -> str:
        d = self.date
        return f"{d[:4]}-{d[4:6]}-{d[6:]}T02:50:00Z"


#: Two tiles, for tests that need a tiny world quickly (e.g. the `rs serve` command).
SPECS_FOR_CLI = [TileSpec(0, "20220401", 10.0), TileSpec(1, "20220410", 20.0)]


def make_world(root: Path, specs: list[TileSpec]) -> dict[str, TileSpec]:
    """Write ``<root>/sentinel-2-l2a/<id>/{red,nir}.tif`` + ``<id>.json`` (file:// hrefs)."""
    out: dict[str, TileSpec] = {}
    for spec in specs:
        folder = root / COLLECTION / spec.item_id
        x0 = X0 + spec.index * SPACING
        assets: dict[str, Any] = {}
        for band, common in (("red", "red"), ("nir", "nir")):
            tif = folder / f"{band}.tif"
            write_tiny_tif(tif, x0, Y0)
            assets[band] = {
                "href": tif.resolve().as_uri(),
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "eo:bands": [{"name": band, "common_name": common}],
                "raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 0.0001,
                                  "spatial_resolution": 10}],
                "proj:code": CRS,
                "proj:shape": [SIZE, SIZE],
                "proj:transform": [PIXEL, 0.0, x0, 0.0, -PIXEL, Y0],
            }
        west, south, east, north = tile_bounds_4326(spec.index)
        self_href = (folder / f"{spec.item_id}.json").resolve().as_uri()
        item = {
            "type": "Feature",
            "stac_version": "1.1.0",
            "stac_extensions": [],
            "id": spec.item_id,
            "collection": COLLECTION,
            "geometry": {"type": "Polygon", "coordinates": [[
                [west, south], [east, south], [east, north], [west, north], [west, south]]]},
            "bbox": [west, south, east, north],
            "properties": {
                "datetime": spec.datetime,
                "platform": spec.platform,
                "constellation": "sentinel-2",
                "eo:cloud_cover": spec.cloud,
                "s2:processing_baseline": "04.00",
                "proj:code": CRS,
            },
            "links": [{"rel": "self", "href": self_href}],
            "assets": assets,
        }
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{spec.item_id}.json").write_text(json.dumps(item))
        out[spec.item_id] = spec
    return out


# --------------------------------------------------------------------------- fake STAC API

#: (status, body, extra headers); body dict -> JSON.
Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Route:
    """Scripted replies for one path: ``script`` first, in order, then ``final`` forever."""

    final: Callable[[FakeStacApi], Reply]
    script: list[Reply] = field(default_factory=list)
    delay: float = 0.0  # seconds to stall before answering (interruptible on shutdown)


class FakeStacApi:
    """A tiny scripted STAC API on 127.0.0.1 (stdlib http.server in a thread).

    Counts requests per path in :attr:`hits` and keeps POST bodies in :attr:`bodies`.
    """

    def __init__(self, conforms_to: list[str] | None = None) -> None:
        self.conforms_to = conforms_to or [
            "https://api.stacspec.org/v1.0.0/core",
            "https://api.stacspec.org/v1.0.0/item-search",
        ]
        self.hits: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.routes: dict[str, Route] = {
            "/": Route(final=lambda api: (200, api.landing(), {})),
            "/search": Route(final=lambda api: (200, feature_collection([]), {})),
        }
        self._lock = threading.Lock()
        self._http = LoopbackHTTP(self._handler_class())
        self._stop = self._http.stop

    @property
    def url(self) -> str:
        return self._http.url

    def landing(self) -> dict[str, Any]:
        return {
            "type": "Catalog", "stac_version": "1.1.0", "id": "fake", "description": "fake",
            "conformsTo": self.conforms_to,
            "links": [
                {"rel": "self", "href": self.url + "/", "type": "application/json"},
                {"rel": "root", "href": self.url + "/", "type": "application/json"},
                {"rel": "search", "href": self.url + "/search", "method": "GET",
                 "type": "application/geo+json"},
                {"rel": "search", "href": self.url + "/search", "method": "POST",
                 "type": "application/geo+json"},
            ],
        }

    def _reply(self, path: str) -> tuple[Reply, float]:
        with self._lock:
            self.hits[path] += 1
            route = self.routes.get(path)
            if route is None:
                return (404, {"code": "NotFound", "description": path}, {}), 0.0
            reply = route.script.pop(0) if route.script else route.final(self)
            return reply, route.delay

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                (status, body, headers), delay = api._reply(path)
                if delay and api._stop.wait(delay):
                    return
                payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                with api._lock:
                    api.bodies.append(json.loads(raw or b"{}"))
                self._answer()

        return Handler

    def __enter__(self) -> FakeStacApi:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, "links": []}


def stub_item(item_id: str, cloud: float, day: int = 1) -> dict[str, Any]:
    """A minimal valid STAC item dict (1 x 1 degree at the origin)."""
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": "c",
        "geometry": {"type": "Polygon",
                     "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
        "bbox": [0, 0, 1, 1],
        "properties": {"datetime": f"2022-01-{day:02d}T00:00:00Z", "eo:cloud_cover": cloud},
        "links": [], "assets": {},
    }
