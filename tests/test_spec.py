"""Pipeline spec validation: every bad input is refused with the key named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from rs.errors import SpecError
from rs.pipeline.spec import load_spec, parse_spec

GOOD = {
    "name": "t1",
    "source": {"embedded": "demo", "collections": ["sentinel-2-l2a"]},
    "aoi": "region.geojson",
    "time": {"start": "2022-04-01", "end": "2022-09-30"},
    "product": {"kind": "composite"},
    "output": "out",
}


def _with(path: tuple[str, ...], value: object) -> dict:
    import copy

    d = copy.deepcopy(GOOD)
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return d


def test_parse_spec__defaults_and_relative_paths(tmp_path: Path) -> None:
    spec = parse_spec(GOOD, base=tmp_path)
    assert spec.aoi == str(tmp_path / "region.geojson")
    assert spec.output == tmp_path / "out"
    assert spec.product.bands == ["red", "green", "blue", "nir"]
    assert spec.product.indices == ["ndvi"]
    assert spec.on_scene_error == "skip"
    assert spec.time.start == dt.date(2022, 4, 1)
    assert spec.time.as_stac() == "2022-04-01T00:00:00Z/2022-09-30T23:59:59Z"


def test_parse_spec__unknown_top_level_key_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="unknown key 'colour'"):
        parse_spec({**GOOD, "colour": "red"}, base=tmp_path)


def test_parse_spec__unknown_nested_key_named_with_path(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"unknown key 'product\.composite\.bandz'"):
        parse_spec(_with(("product", "bandz"), ["red"]), base=tmp_path)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("time", "end"), "2021-01-01", "before time.start"),
        (("product", "bands"), ["red", "purple"], "unknown band"),
        (("product", "indices"), ["xyz"], "unknown index"),
        (("source", "url"), "ftp://x", "give exactly one of"),
        (("source", "collections"), [], "collections"),
        (("source", "filters"), {"eo:cloud_cover": {"below": 3}}, "unknown operator"),
        (("name",), "bad name!", "name"),
        (("on_scene_error",), "ignore", "on_scene_error"),
    ],
)
def test_parse_spec__bad_values_refused(tmp_path: Path, path, value, message) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(_with(path, value), base=tmp_path)


def test_parse_spec__url_and_embedded_exclusive(tmp_path: Path) -> None:
    both = _with(("source", "url"), "http://127.0.0.1:1")
    with pytest.raises(SpecError, match="exactly one"):
        parse_spec(both, base=tmp_path)


def test_load_spec__missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read pipeline spec"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        load_spec(scalar)


def test_load_spec__relative_to_spec_folder(tmp_path: Path) -> None:
    sub = tmp_path / "pipelines"
    sub.mkdir()
    f = sub / "p.yaml"
    f.write_text(yaml.safe_dump({**GOOD, "aoi": "../aoi/a.geojson"}))
    spec = load_spec(f)
    assert spec.aoi == str((tmp_path / "aoi" / "a.geojson").resolve())


def test_parse_spec__bbox_aoi_kept_as_given(tmp_path: Path) -> None:
    spec = parse_spec({**GOOD, "aoi": "118.70,32.05, 118.74,32.09"}, base=tmp_path)
    assert spec.aoi == "118.70,32.05, 118.74,32.09"
    assert spec.aoi_label == spec.aoi


def test_load_spec__demo_spec_of_the_repository_is_valid() -> None:
    root = Path(__file__).resolve().parents[1]
    spec = load_spec(root / "pipelines" / "demo.yaml")
    assert spec.source.embedded == "demo"
    assert spec.aoi == str(root / "aoi" / "demo_region.geojson")
    assert Path(spec.aoi).exists()


def test_resolve_modifier__imports_function_and_refuses_bad_paths(tmp_path: Path) -> None:
    from rs.pipeline.source import resolve_modifier

    assert resolve_modifier(None) is None
    assert resolve_modifier("os.path:basename")("a/b.tif") == "b.tif"
    with pytest.raises(SpecError, match="cannot import 'no_such_module_rs'"):
        resolve_modifier("no_such_module_rs:sign")
    with pytest.raises(SpecError, match="has no function 'nope'"):
        resolve_modifier("os.path:nope")
    with pytest.raises(SpecError, match="modifier"):
        parse_spec(_with(("source", "modifier"), "not a dotted path"), base=tmp_path)
