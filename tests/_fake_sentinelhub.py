"""A fake Sentinel Hub on loopback, over TLS, serving a synthetic world (rs.testing).

:class:`FakeSentinelHub` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with a self-signed
certificate made by the ``openssl`` command (:func:`self_signed`); a test trusts it through
``REQUESTS_CA_BUNDLE`` set in the test process only. It answers what sentinelhub-py sends:

- ``POST /oauth/token``: client credentials (form body); a wrong id or secret is a 401
  ``invalid_client`` as Sentinel Hub answers it;
- ``POST /api/v1/catalog/1.0.0/search``: the world's scenes intersecting ``intersects`` /
  ``bbox`` within ``datetime`` (and ``filter`` ``eo:cloud_cover <= X``) as STAC features
  (id, datetime, bbox, geometry, ``eo:cloud_cover``, platform), ``page_size`` per page with
  ``context.next`` for the rest;
- ``POST /api/v1/process``: a real GeoTIFF (uint16) of the bands the evalscript's ``input``
  lists (but ``dataMask``), read from the world's files for the scene in ``timeRange`` and cut
  to the request's bbox, CRS and width / height (nearest neighbour), 0 where there is none;
  with ``harmonizeValues`` not false the baseline-04.00 offset is taken off as Sentinel Hub
  does.

Every other call needs the bearer token. :meth:`FakeSentinelHub.fail` scripts answers (429 with
a ``Retry-After`` in milliseconds, 503, ...) given before the real ones on a path; ``hits``,
``statuses`` and ``bodies`` record what happened.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import subprocess
import threading
import urllib.parse
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, reproject
from shapely.geometry import box, shape

from rs.testing import World

TOKEN_PATH = "/oauth/token"
SEARCH_PATH = "/api/v1/catalog/1.0.0/search"
PROCESS_PATH = "/api/v1/process"
#: Sentinel Hub band ids -> asset keys of the synthetic world
WORLD_KEYS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B11": "swir16",
              "B12": "swir22", "SCL": "scl"}


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost) and its key, made with ``openssl``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


def _when(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


class FakeSentinelHub:
    """The fake service (see the module docstring); use as a context manager."""

    def __init__(
        self,
        world: World,
        cert: Path,
        key: Path,
        *,
        client_id: str,
        client_secret: str,
        page_size: int = 2,
    ) -> None:
        self.world = world
        self.client_id, self.client_secret = client_id, client_secret
        self.page_size = page_size
        self.tokens: set[str] = set()
        self.hits: Counter[str] = Counter()
        self.statuses: list[tuple[str, int]] = []
        self.bodies: list[tuple[str, Any]] = []
        self._script: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self.items = world.items()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def fail(self, path: str, *statuses: int) -> None:
        """Answer the next calls to ``path`` with ``statuses``, in order, before real answers."""
        with self._lock:
            self._script.setdefault(path, []).extend(statuses)

    def clear_script(self) -> None:
        """Forget the scripted answers not given yet."""
        with self._lock:
            self._script.clear()

    def __enter__(self) -> FakeSentinelHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    # --- answers ----------------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> tuple[int, Any, str]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, "application/json"
        given = (form.get("client_id"), form.get("client_secret"))
        if given != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client",
                         "error_description": "Invalid client or Invalid client credentials"}, \
                "application/json"
        tok = secrets.token_hex(16)
        with self._lock:
            self.tokens.add(tok)
        return 200, {"access_token": tok, "token_type": "Bearer", "expires_in": 3600}, \
            "application/json"

    def search(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        if body.get("collections") != ["sentinel-2-l2a"]:
            return 400, {"error": {"message": f"unknown collections {body.get('collections')}"}}, \
                "application/json"
        area = shape(body["intersects"]) if "intersects" in body else box(*body["bbox"])
        start, end = (_when(s) for s in body["datetime"].split("/"))
        max_cc = 100.0
        if body.get("filter"):  # the one CQL2 text filter rs sends
            m = re.fullmatch(r"eo:cloud_cover <= ([\d.]+)", body["filter"])
            if m is None:
                return 400, {"error": {"message": f"filter {body['filter']!r}"}}, \
                    "application/json"
            max_cc = float(m.group(1))
        found = []
        for it in self.items:
            assert it.datetime is not None
            if (start <= it.datetime <= end and shape(it.geometry).intersects(area)
                    and it.properties["eo:cloud_cover"] <= max_cc):
                found.append({
                    "type": "Feature", "stac_version": "1.0.0", "id": it.id,
                    "bbox": it.bbox, "geometry": it.geometry,
                    "properties": {
                        "datetime": it.datetime.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "platform": it.properties["platform"],
                        "constellation": "sentinel-2", "instruments": ["msi"],
                        "eo:cloud_cover": it.properties["eo:cloud_cover"],
                        "proj:epsg": int(self.world.grid.crs.split(":")[1]),
                    },
                    "assets": {}, "links": [],
                })
        start_at = int(body.get("next") or 0)
        limit = min(int(body.get("limit", 100)), self.page_size)
        page = found[start_at : start_at + limit]
        context: dict[str, Any] = {"limit": limit, "returned": len(page)}
        if start_at + limit < len(found):
            context["next"] = start_at + limit
        return 200, {"type": "FeatureCollection", "features": page, "links": [],
                     "context": context}, "application/json"

    def process(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        bounds, out = body["input"]["bounds"], body["output"]
        epsg = int(str(bounds["properties"]["crs"]).rstrip("/").rsplit("/", 1)[-1])
        w, h = int(out["width"]), int(out["height"])
        data = body["input"]["data"][0]
        rng = data["dataFilter"]["timeRange"]
        start, end = _when(rng["from"]), _when(rng["to"])
        harmonize = data.get("processing", {}).get("harmonizeValues", True) is not False
        match = re.search(r"bands:\s*(\[[^\]]*\])", body["evalscript"])
        if match is None:
            return 400, {"error": {"message": "no input bands in the evalscript"}}, \
                "application/json"
        bands = [b for b in json.loads(match.group(1)) if b != "dataMask"]
        dst_tr = from_bounds(*bounds["bbox"], w, h)
        hits = [i for i, t in enumerate(self.world.datetimes)
                if start <= t.replace(tzinfo=start.tzinfo) <= end]
        with MemoryFile() as mem:
            with mem.open(driver="GTiff", width=w, height=h, count=len(bands), dtype="uint16",
                          crs=f"EPSG:{epsg}", transform=dst_tr) as dst:
                if hits:
                    i = hits[-1]  # mostRecent
                    for k, band in enumerate(bands):
                        path = self.world.band_path(i, WORLD_KEYS[band])
                        with rasterio.open(path) as src:
                            reproject(rasterio.band(src, 1), rasterio.band(dst, k + 1),
                                      dst_nodata=0, resampling=Resampling.nearest)
                    arr = dst.read()
                    if harmonize and self.world.processing_baseline(i) >= "04.00":
                        for k, band in enumerate(bands):
                            if band != "SCL":
                                v = arr[k].astype(np.int32)
                                arr[k] = np.where(v > 0, np.clip(v - 1000, 1, None), 0)
                    dst.write(arr)
            return 200, mem.read(), "image/tiff"

    # --- plumbing ---------------------------------------------------------------------------
    def _answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, Any, str, dict[str, str]]:
        with self._lock:
            self.hits[path] += 1
            script = self._script.get(path)
            scripted = script.pop(0) if script else None
        if scripted is not None:
            extra = {"Retry-After": "50"} if scripted == 429 else {}
            return scripted, {"error": {"status": scripted, "message": "scripted"}}, \
                "application/json", extra
        if path == TOKEN_PATH:
            form = dict(urllib.parse.parse_qsl(raw.decode()))
            return (*self.token(form), {})
        auth = headers.get("Authorization", "")
        with self._lock:
            known = auth.removeprefix("Bearer ") in self.tokens
        if not known:
            return 401, {"error": {"status": 401, "reason": "Unauthorized"}}, \
                "application/json", {}
        body = json.loads(raw or b"{}")
        with self._lock:
            self.bodies.append((path, body))
        if path == SEARCH_PATH:
            return (*self.search(body), {})
        if path == PROCESS_PATH:
            return (*self.process(body), {})
        return 404, {"error": {"status": 404, "message": path}}, "application/json", {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlsplit(self.path).path
                status, payload, ctype, extra = fake._answer(path, self.headers, raw)
                with fake._lock:
                    fake.statuses.append((path, status))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

