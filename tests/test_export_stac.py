"""Output STAC items validate, offline, against the core item schema and every declared extension.

The schemas are bundled in tests/schemas (see SOURCE.txt there) and resolved locally: no test
reaches the network. Besides schema validity, every ``proj:``/``raster:``/``table:``/
``processing:``/``file:`` field must have its extension declared, because a schema validator
never looks at fields of an extension the item does not declare.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import jsonschema
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from shapely.geometry import box

from rs.export.cog import CogWriter, GridSpec, RasterBand
from rs.export.quicklook import quicklook_asset, write_quicklook
from rs.export.raster import raster_asset
from rs.export.stac_items import (
    OutputAsset,
    file_asset,
    output_item,
    refresh_catalog,
    write_output_item,
)
from rs.export.tables import write_table
from rs.export.vectors import write_vector

SCHEMAS = Path(__file__).parent / "schemas"
CORE = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/"
# field prefix -> (published schema URI, bundled file); written from the extensions' READMEs,
# independently of rs.export.stac_items.EXTENSIONS
EXTENSION_SCHEMAS = {
    "proj": ("https://stac-extensions.github.io/projection/v2.0.0/schema.json",
             "projection-v2.0.0.json"),
    "raster": ("https://stac-extensions.github.io/raster/v1.1.0/schema.json", "raster-v1.1.0.json"),
    "table": ("https://stac-extensions.github.io/table/v1.2.0/schema.json", "table-v1.2.0.json"),
    "processing": ("https://stac-extensions.github.io/processing/v1.2.0/schema.json",
                   "processing-v1.2.0.json"),
    "file": ("https://stac-extensions.github.io/file/v2.1.0/schema.json", "file-v2.1.0.json"),
}  # fmt: skip


def _registry() -> Registry:
    files: dict[str, Path] = {CORE + p.name: p for p in (SCHEMAS / "stac-spec-v1.1.0").iterdir()}
    files |= {f"https://geojson.org/schema/{p.name}": p for p in (SCHEMAS / "geojson").iterdir()}
    files |= {uri: SCHEMAS / name for uri, name in EXTENSION_SCHEMAS.values()}
    files["https://proj.org/schemas/v0.7/projjson.schema.json"] = (
        SCHEMAS / "projjson-v0.7.schema.json"
    )
    pairs = []
    for uri, path in files.items():
        resource = Resource.from_contents(
            json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT7
        )
        pairs.append((uri, resource))
        own = str(resource.id() or "").rstrip("#")
        if own and own != uri:  # relative $refs inside resolve against the schema's own $id
            pairs.append((own, resource))
    return Registry().with_resources(pairs)


REGISTRY = _registry()


def _schema(uri: str) -> Any:
    return REGISTRY.contents(uri)


def _fields(item: Mapping[str, Any]) -> Iterator[str]:
    yield from item.get("properties", {})
    for asset in item.get("assets", {}).values():
        yield from asset
    for link in item.get("links", []):
        yield from link


def _deepest(e: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The cause of a oneOf/allOf failure deepest inside the item (the field at fault)."""
    leaves = [e]
    while any(x.context for x in leaves):
        leaves = [c for x in leaves for c in (x.context or [x])]
    return max(leaves, key=lambda x: len(x.absolute_path))


def stac_errors(item: Mapping[str, Any]) -> list[str]:
    """Why ``item`` is not a valid STAC 1.1 item with its declared extensions ([] if it is)."""
    errors = []

    def check(uri: str) -> None:
        v = jsonschema.Draft7Validator(_schema(uri), registry=REGISTRY)
        for e in v.iter_errors(item):
            e = _deepest(e)
            errors.append(f"{uri}: {e.json_path}: {e.message}")

    check(CORE + "item.json")
    bundled = {uri for uri, _ in EXTENSION_SCHEMAS.values()}
    for uri in item.get("stac_extensions", []):
        if uri in bundled:
            check(uri)
        else:
            errors.append(f"no bundled schema for declared extension {uri}")
    declared = set(item.get("stac_extensions", []))
    for name in sorted(set(_fields(item))):
        prefix = name.split(":", 1)[0]
        if ":" in name and prefix in EXTENSION_SCHEMAS:
            uri = EXTENSION_SCHEMAS[prefix][0]
            if uri not in declared:
                errors.append(f"field {name} used but extension {uri} not declared")
    return errors


GRID = GridSpec("EPSG:32650", Affine(10, 0, 660000, 0, -10, 3552000), (64, 96))
T0 = dt.datetime(2022, 4, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2022, 9, 30, tzinfo=dt.UTC)
GEOM = box(118.7, 32.0, 118.8, 32.1)


def _product_assets(folder: Path) -> list[OutputAsset]:
    """Every kind of output asset rs writes: COG, quicklook, table, vector layer."""
    ndvi = RasterBand("ndvi", description="normalised difference vegetation index")
    cog = folder / "ndvi.tif"
    data = np.linspace(-0.2, 0.9, GRID.shape[0] * GRID.shape[1], dtype="float32")
    with CogWriter(cog, GRID, [ndvi], tags={"RS_PRODUCT": "ndvi"}) as w:
        w.write_block(0, 0, data.reshape(GRID.shape))
    counts = folder / "clear.tif"
    with CogWriter(counts, GRID, ["clear_count"], dtype="uint16", nodata=65535) as w:
        w.write_block(0, 0, np.ones(GRID.shape, "uint16"))
    zonal = pd.DataFrame({"county": ["a", "b"], "ndvi_mean": [0.5, 0.25]})
    patches = gpd.GeoDataFrame(
        {"patch_id": [1], "kind": ["mining"]}, geometry=[box(0, 0, 10, 10)], crs="EPSG:32650"
    )
    return [
        raster_asset("ndvi", cog, GRID, [ndvi], dtype="float32", nodata=float("nan")),
        raster_asset("clear_count", counts, GRID, ["clear_count"], dtype="uint16", nodata=65535),
        quicklook_asset(
            "ndvi_thumbnail", write_quicklook(cog, folder / "ndvi.png", value_range=(-0.2, 0.9))
        ),
        *write_table(zonal, folder, "zonal", key="zonal", descriptions={"county": "name"}),
        *write_vector(patches, folder, "patches", key="patches", layer="patches",
                      schema={"patch_id": "int", "kind": "str"}, geometry_type="Polygon"),
    ]  # fmt: skip


def _write_items(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    up = output_item(
        out, item_id="composite-2022", geometry=GEOM, start=T0, end=T1,
        assets=_product_assets(out)[:1], properties={"rs:run_key": "k0"},
    )  # fmt: skip
    write_output_item(out, up)
    item = output_item(
        out, item_id="change-2022", geometry=GEOM, start=T0, end=T1,
        assets=_product_assets(out),
        properties={
            "rs:run_key": "k1",
            "processing:software": {"rs": "0.1.0"},
            "processing:lineage": "composite, then change detection",
        },
        derived_from=["composite-2022"],
        extra_links=[{"rel": "license", "href": "https://www.apache.org/licenses/LICENSE-2.0"}],
    )  # fmt: skip
    write_output_item(out, item)
    return up, item


def test_output_item__written_items_validate_with_their_extensions(tmp_path: Path) -> None:
    _write_items(tmp_path)
    assert len(list((tmp_path / "items").glob("*.json"))) == 2
    for p in sorted((tmp_path / "items").glob("*.json")):
        item = json.loads(p.read_text(encoding="utf-8"))
        assert stac_errors(item) == [], p.name
    item = json.loads((tmp_path / "items" / "change-2022.json").read_text(encoding="utf-8"))
    base = "https://stac-extensions.github.io/"
    assert item["stac_extensions"] == sorted(
        base + e
        for e in (
            "file/v2.1.0/schema.json",
            "processing/v1.2.0/schema.json",
            "projection/v2.0.0/schema.json",
            "raster/v1.1.0/schema.json",
            "table/v1.2.0/schema.json",
        )
    )
    up = json.loads((tmp_path / "items" / "composite-2022.json").read_text(encoding="utf-8"))
    assert (
        "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
        not in up["stac_extensions"]
    ), "only extensions whose fields are used are declared"
    assert item["assets"]["ndvi"]["raster:bands"][0]["nodata"] == "nan"
    assert item["assets"]["ndvi_thumbnail"]["rs:value_range"] == [-0.2, 0.9]


def test_output_item__derived_from_links_resolve_to_upstream_items(tmp_path: Path) -> None:
    up, item = _write_items(tmp_path)
    links = [link for link in item["links"] if link["rel"] == "derived_from"]
    assert len(links) == 1 and links[0]["type"] == "application/geo+json"
    target = (tmp_path / "items" / links[0]["href"]).resolve()
    assert json.loads(target.read_text(encoding="utf-8"))["id"] == up["id"]
    assert any(link["rel"] == "license" for link in item["links"])
    with pytest.raises(ValueError, match="not an output item id"):
        output_item(tmp_path, item_id="x", geometry=GEOM, start=T0, end=T1, assets=[],
                    properties={}, derived_from=["../elsewhere/y"])  # fmt: skip
    with pytest.raises(ValueError, match="'rel' and 'href'"):
        output_item(tmp_path, item_id="x", geometry=GEOM, start=T0, end=T1, assets=[],
                    properties={}, extra_links=[{"href": "x"}])  # fmt: skip


def _item(tmp_path: Path, extra: Mapping[str, Any]) -> dict[str, Any]:
    f = tmp_path / "a.tif"
    f.write_bytes(b"x")
    return output_item(
        tmp_path, item_id="p", geometry=GEOM, start=T0, end=T1,
        assets=[OutputAsset("data", f, "image/tiff", extra=extra)], properties={},
    )  # fmt: skip


def test_stac_errors__undeclared_extension_fails(tmp_path: Path) -> None:
    item = _item(tmp_path, {"proj:code": "EPSG:32650"})
    assert stac_errors(item) == []
    item["stac_extensions"] = []
    errors = stac_errors(item)
    assert len(errors) == 1 and "proj:code used but extension" in errors[0]


def test_stac_errors__invalid_extension_values_fail(tmp_path: Path) -> None:
    bad_nodata = _item(tmp_path, {"raster:bands": [{"nodata": "NaN"}]})
    (e,) = stac_errors(bad_nodata)
    assert "raster/v1.1.0" in e and "$.assets.data['raster:bands'][0].nodata" in e
    bad_shape = _item(tmp_path, {"proj:shape": [1, 2, 3]})
    (e,) = stac_errors(bad_shape)
    assert "projection/v2.0.0" in e and "$.assets.data['proj:shape']: [1, 2, 3] is too long" in e
    unknown = _item(tmp_path, {"raster:colour": "red"})
    (e,) = stac_errors(unknown)
    assert "raster/v1.1.0" in e and "'raster:colour' does not match" in e
    no_assets = _item(tmp_path, {})
    del no_assets["assets"]
    assert any("item.json" in e and "'assets' is a required property" in e
               for e in stac_errors(no_assets))  # fmt: skip
    unbundled = _item(tmp_path, {})
    unbundled["stac_extensions"] = ["https://stac-extensions.github.io/eo/v2.0.0/schema.json"]
    assert stac_errors(unbundled) == [
        "no bundled schema for declared extension "
        "https://stac-extensions.github.io/eo/v2.0.0/schema.json"
    ]


def test_output_item__field_of_an_undeclarable_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'eo:cloud_cover'.*prefix 'eo'"):
        _item(tmp_path, {"eo:cloud_cover": 3})
    with pytest.raises(ValueError, match="'sat:orbit_state'"):
        output_item(tmp_path, item_id="p", geometry=GEOM, start=T0, end=T1, assets=[],
                    properties={"sat:orbit_state": "ascending"})  # fmt: skip
    item = _item(tmp_path, {"rs:value_range": [0, 1], "proj:code": "EPSG:32650"})
    assert item["stac_extensions"] == [EXTENSION_SCHEMAS["proj"][0]]


def test_refresh_catalog__links_every_item_file_without_reading_it(tmp_path: Path) -> None:
    items = tmp_path / "items"
    items.mkdir()
    (items / "b-2.json").write_text("{}")
    (items / "a-1.json").write_text("not read")
    (items / "notes.txt").write_text("")
    refresh_catalog(tmp_path)
    cat = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))
    assert [(link["rel"], link["href"]) for link in cat["links"]] == [
        ("root", "./catalog.json"), ("item", "./items/a-1.json"), ("item", "./items/b-2.json"),
    ]
    refresh_catalog(tmp_path / "empty")
    cat = json.loads((tmp_path / "empty" / "catalog.json").read_text(encoding="utf-8"))
    assert [link["rel"] for link in cat["links"]] == ["root"]


def test_file_asset__adds_the_size_of_a_written_file(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("a,b\n1,2\n")
    a = file_asset("t", f, "text/csv", roles=("data",), title="T", extra={"table:row_count": 1})
    assert a == OutputAsset("t", f, "text/csv", ("data",), "T",
                            {"table:row_count": 1, "file:size": f.stat().st_size})  # fmt: skip
    assert "file:size" not in file_asset("u", tmp_path / "later.csv", "text/csv").extra
