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
    "sources": {"s2": {"embedded": "demo", "collections": ["sentinel-2-l2a"]}},
    "aoi": "region.geojson",
    "periods": {"season": {"start": "2022-04-01", "end": "2022-09-30"}},
    "steps": [{"id": "composite", "kind": "composite"}],
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
    step = spec.steps[0]
    assert step.bands == ["red", "green", "blue", "nir"]
    assert step.indices == ["ndvi"]
    assert spec.on_scene_error == "skip"
    (period,) = spec.all_periods()["season"]
    assert period.start == dt.date(2022, 4, 1)
    assert period.as_stac() == "2022-04-01T00:00:00Z/2022-09-30T23:59:59Z"


def test_parse_spec__unknown_top_level_key_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="unknown key 'colour'"):
        parse_spec({**GOOD, "colour": "red"}, base=tmp_path)


def test_parse_spec__unknown_nested_key_named_with_path(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"unknown key 'steps\[0\]\.bandz'"):
        parse_spec(_with(("steps", 0, "bandz"), ["red"]), base=tmp_path)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("periods", "season", "end"), "2021-01-01", "before start"),
        (("periods", "season", "end"), "2022-13-45", r"periods\.season\.end: .*date"),
        (("steps", 0, "bands"), ["red", "purple"], "unknown band"),
        (("steps", 0, "indices"), ["xyz"], "unknown index"),
        (("steps", 0, "crs"), "EPSG:999999", "not a known CRS"),
        (("steps", 0, "crs"), "EPSG:4326", "resolution 10 is in metres"),
        (("steps", 0, "kind"), "compost", "unknown or missing step kind"),
        (("steps", 0, "periods"), ["winter"], "period 'winter' is not defined"),
        (("steps", 0, "source"), "s3", "source 's3' is not defined"),
        (("dask",), {"memory_limit": "lots"}, r"dask\.memory_limit: 'lots' is not a memory size"),
        (("sources", "s2", "url"), "ftp://x", "give exactly one of"),
        (("sources", "s2", "collections"), [], "collections"),
        (("sources", "s2", "filters"), {"eo:cloud_cover": {"below": 3}}, "unknown operator"),
        (("name",), "bad name!", "name"),
        (("on_scene_error",), "ignore", "on_scene_error"),
    ],
)
def test_parse_spec__bad_values_refused(tmp_path: Path, path, value, message) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(_with(path, value), base=tmp_path)


def test_parse_spec__url_and_embedded_exclusive(tmp_path: Path) -> None:
    both = _with(("sources", "s2", "url"), "http://127.0.0.1:1")
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
    assert spec.sources["s2"].embedded == "demo"
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
        parse_spec(_with(("sources", "s2", "modifier"), "not a dotted path"), base=tmp_path)


def test_parse_spec__old_format_says_what_to_write(tmp_path: Path) -> None:
    old = {
        "name": "t1",
        "source": {"embedded": "demo", "collections": ["sentinel-2-l2a"]},
        "aoi": "region.geojson",
        "time": {"start": "2022-04-01", "end": "2022-09-30"},
        "product": {"kind": "composite"},
        "output": "out",
    }
    with pytest.raises(SpecError) as e:
        parse_spec(old, base=tmp_path)
    msg = str(e.value)
    assert "old single-product format" in msg
    for now in ("'source' is now 'sources'", "'time' is now 'periods'", "'product' is now 'steps'"):
        assert now in msg


def test_parse_spec__geographic_crs_with_degrees_accepted(tmp_path: Path) -> None:
    spec = parse_spec(
        _with(
            ("steps", 0), {"id": "c", "kind": "composite", "crs": "EPSG:4326", "resolution": 0.0001}
        ),
        base=tmp_path,
    )
    assert spec.steps[0].resolution == 0.0001


def test_parse_spec__memory_limit_forms(tmp_path: Path) -> None:
    for ok in ("auto", "4GiB", "500MB", "0.5"):
        assert parse_spec(_with(("dask",), {"memory_limit": ok}), base=tmp_path).dask.memory_limit
    for bad in ("0", "2", "-1GB"):
        with pytest.raises(SpecError, match="memory_limit"):
            parse_spec(_with(("dask",), {"memory_limit": bad}), base=tmp_path)


def test_load_spec__binary_file_is_a_spec_error(tmp_path: Path) -> None:
    f = tmp_path / "spec.yaml"
    f.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SpecError, match=r"not a text file|binary"):
        load_spec(f)
    g = tmp_path / "nul.yaml"
    g.write_bytes(b"name: x\x00\x00\n")
    with pytest.raises(SpecError, match="binary"):
        load_spec(g)


def test_load_spec__impossible_date_names_its_key(tmp_path: Path) -> None:
    f = tmp_path / "spec.yaml"
    data = yaml.safe_dump(GOOD).replace("'2022-09-30'", "2022-13-45")
    assert "2022-13-45" in data
    f.write_text(data)
    with pytest.raises(SpecError, match=r"periods\.season\.end"):
        load_spec(f)


def _two_halves() -> dict:
    return {
        **GOOD,
        "periods": {
            "halves": {"every": "half-year", "start": "2022-01-01", "end": "2022-12-31"},
            "year": {"start": "2022-01-01", "end": "2022-12-31"},
        },
        "steps": [
            {"id": "comp", "kind": "composite", "periods": ["halves"]},
            {
                "id": "change",
                "kind": "difference",
                "periods": ["year"],
                "before": "comp@2022-H1",
                "after": "comp@2022-H2",
                "layer": "ndvi",
            },
        ],
    }


def test_expand_runs__two_periods_feed_a_later_step(tmp_path: Path) -> None:
    from rs.pipeline.graph import expand_runs

    runs = expand_runs(parse_spec(_two_halves(), base=tmp_path))
    assert [r.item_id("t1") for r in runs] == [
        "t1-comp-2022-H1",
        "t1-comp-2022-H2",
        "t1-change-year-20220101-20221231",
    ]
    change = runs[2]
    assert [u.period.name for u in change.upstream["before"]] == ["2022-H1"]
    assert [u.period.name for u in change.upstream["after"]] == ["2022-H2"]
    assert change.upstream["before"][0] is runs[0]
    assert change.upstream["after"][0] is runs[1]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["steps"][1].update(before="comp@2023-H1"),
            "does not run for period '2023-H1'",
        ),
        (
            lambda d: d["steps"][1].update(before="nope@2022-H1"),
            "reads step 'nope', which is not defined",
        ),
        (lambda d: d["steps"].reverse(), "comes later"),
        (lambda d: d["steps"][1].update(id="comp"), "unique"),
        (lambda d: d["steps"][1].update(before="comp"), r"does not run for \['year'\]"),
    ],
)
def test_parse_spec__bad_step_references_refused(tmp_path: Path, edit, message) -> None:
    d = _two_halves()
    edit(d)
    with pytest.raises(SpecError, match=message):
        parse_spec(d, base=tmp_path)
