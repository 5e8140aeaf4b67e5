"""GDAL/OGR's own command-line tools on rs outputs (``gdalinfo -json``, ``ogrinfo``): every COG
and GeoPackage layer of an output folder reopened and checked against its STAC asset. Used by
tests/test_gis_outputs.py and by each product's end-to-end tests (:func:`check_outputs`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

#: skip marker for tests that need gdal-bin (``.ci/run`` installs it, so CI never skips)
needs_gdal = pytest.mark.skipif(
    not (shutil.which("gdalinfo") and shutil.which("ogrinfo")),
    reason="gdal-bin (gdalinfo, ogrinfo) not installed: apt-get install gdal-bin",
)


def run_tool(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def gdalinfo(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(run_tool("gdalinfo", "-json", str(path)))
    return out


def ogrinfo(path: str, layer: str | None = None) -> dict[str, Any]:
    """Layer name, geometry, feature count, fields {name: type} and EPSG code of the first (or
    the named) layer, from ``ogrinfo -ro -so -al`` (WKT2)."""
    text = run_tool("ogrinfo", "-ro", "-so", "-wkt_format", "WKT2", "-nomd",
                *([path, layer] if layer else ["-al", path]))
    block = text.split("\nLayer name: ")[1]
    name = block.splitlines()[0].strip()
    count = int(re.search(r"^Feature Count: (\d+)$", block, re.M).group(1))  # type: ignore[union-attr]
    geometry = re.search(r"^Geometry: (.+)$", block, re.M).group(1)  # type: ignore[union-attr]
    epsg = re.findall(r'^    ID\["EPSG",(\d+)\]\]$', block, re.M)
    fields = {}
    after = block.split("Data axis to CRS axis mapping:")[1].splitlines()[1:]
    for line in after:
        if m := re.match(r"^([^:=\s]+): (\w+)", line):
            fields[m.group(1)] = m.group(2)
    return {"name": name, "count": count, "geometry": geometry, "fields": fields,
            "epsg": int(epsg[-1]) if epsg else None}


_GDAL_TYPES = {"Byte": "uint8", "Int8": "int8"}  # GDAL's names -> the raster extension's


def _items(out: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "items").glob("*.json")}


def _file(item_path: Path, asset: dict[str, Any]) -> Path:
    return (item_path.parent / asset["href"]).resolve()


def palette(qml_text: str) -> dict[str, str]:
    root = ET.fromstring(qml_text.split("\n", 1)[1])
    return {e.get("value", ""): e.get("label", "") for e in root.iter("paletteEntry")}


def check_rasters(out: Path) -> int:
    """Every COG asset of every item reopened with gdalinfo and compared with its asset."""
    n = 0
    for item_id, item in _items(out).items():
        for key, a in item["assets"].items():
            if not a["type"].startswith("image/tiff"):
                continue
            path = _file(out / "items" / f"{item_id}.json", a)
            info = gdalinfo(path)
            assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG", (key, path)
            assert info["driverShortName"] == "GTiff"
            assert info["size"] == a["proj:shape"][::-1]
            gt = info["geoTransform"]
            # to the last digit or so gdalinfo -json prints (38.7 for 38.699999999999996)
            assert [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]] == pytest.approx(
                a["proj:transform"][:6], rel=1e-12, abs=1e-12), key
            assert info["stac"]["proj:epsg"] == int(a["proj:code"].split(":")[1]), key
            tags = info["metadata"][""]
            assert tags["RS_STEP"] == item["properties"]["rs:step"], key
            assert tags["RS_PRODUCT"] == item["properties"]["rs:kind"], key
            assert tags["RS_PIPELINE"] == item["properties"]["rs:pipeline"], key
            assert tags["RS_PERIOD"] == item["properties"]["rs:period"], key
            assert tags["RS_VERSION"] == item["properties"]["rs:version"], key
            assert len(info["bands"]) == len(a["raster:bands"])
            for band, rb, common in zip(info["bands"], a["raster:bands"], a["bands"],
                                        strict=True):
                assert _GDAL_TYPES.get(band["type"], band["type"].lower()) == rb["data_type"]
                nd = band.get("noDataValue")
                assert nd == rb["nodata"] or (nd == "NaN" and rb["nodata"] == "nan"), key
                assert band.get("description", "") == common["name"], key
                assert band.get("unit", "") == rb.get("unit", ""), key
            big = max(info["size"]) > 512
            assert bool(info["bands"][0].get("overviews")) == big, key  # COG: AUTO overviews
            n += 1
    return n


def check_vectors(out: Path) -> int:
    """Every GeoPackage layer reopened with ogrinfo and compared with its asset."""
    n = 0
    for item_id, item in _items(out).items():
        for key, a in item["assets"].items():
            if a["type"] != "application/geopackage+sqlite3" or "table:columns" not in a:
                continue
            path = _file(out / "items" / f"{item_id}.json", a)
            (layer,) = [t["name"] for t in a["table:tables"]]
            info = ogrinfo(str(path), layer)
            assert (info["name"], info["count"]) == (layer, a["table:row_count"]), key
            cols = [c["name"] for c in a["table:columns"] if c["type"] != "geometry"]
            assert list(info["fields"]) == cols, key
            assert info["epsg"] == int(a["proj:code"].split(":")[1]), key
            n += 1
    return n


def check_outputs(out: Path) -> int:
    """Every COG and GeoPackage layer of the output folder ``out`` as GDAL/OGR see them (when
    gdal-bin is installed); the number of files checked."""
    if not (shutil.which("gdalinfo") and shutil.which("ogrinfo")):
        pytest.skip("gdal-bin (gdalinfo, ogrinfo) not installed: apt-get install gdal-bin")
    return check_rasters(out) + check_vectors(out)
