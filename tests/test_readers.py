"""The reader seam: swath discovery and preflight, tables, optical scenes, the fake reader."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

import h5netcdf
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox
from shapely.geometry import box

from rs.errors import AssetReadError, SourceError
from rs.load._preflight import local_path
from rs.load.readers import (
    InputRef,
    OpticalReader,
    Reader,
    SwathReader,
    TableReader,
    file_key,
    s5p_times,
)
from rs.pipeline.planning import plan_blocks
from rs.testing import FakeReader, World

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
S5P_META = REAL / "tropomi/s5p_l2_metadata_only"
UTC = dt.UTC

NO2_NAME = "S5P_OFFL_L2__NO2____20200303T013547_20200303T031717_12367_01_010302_20200306T053815"


@pytest.fixture
def s5p_meta() -> Path:
    if not S5P_META.is_dir():
        pytest.skip(f"real data folder {S5P_META} is absent")
    return S5P_META


def sha16(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def stat_key(path: Path) -> str:
    """The fingerprint readers give a local file: name, size and mtime, not its bytes."""
    st = path.stat()
    return hashlib.sha256(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]


def write_swath(path: Path, *, variables: tuple[str, ...] = ("PRODUCT/qa_value",),
                attrs: dict[str, str] | None = None) -> Path:
    """A tiny NetCDF4 swath: each variable (``GROUP/name``) 3 x 4 float32 on scanline x pixel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5netcdf.File(path, "w") as f:
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        for name in variables:
            *groups, var = name.split("/")
            g = f
            for part in groups:
                g = g.groups[part] if part in g.groups else g.create_group(part)
            if "scanline" not in g.dimensions:
                g.dimensions = {"scanline": 3, "ground_pixel": 4}
            v = g.create_variable(var, ("scanline", "ground_pixel"), dtype="float32")
            v[:] = np.arange(12, dtype="float32").reshape(3, 4)
    return path


def s5p_name(start: str, end: str, product: str = "L2__CH4___") -> str:
    return f"S5P_OFFL_{product}_{start}_{end}_12367_01_010302_20200306T053811.nc"


# --- swaths: real ESA files (metadata only) ------------------------------------------------------


def test_swath_reader_find__real_s5p_files_dated_by_name_with_checksums(s5p_meta: Path) -> None:
    refs = SwathReader().find(s5p_meta)
    assert len(refs) == 2
    start = dt.datetime(2020, 3, 3, 1, 35, 47, tzinfo=UTC)  # the name, not time_coverage_start
    assert [r.datetime for r in refs] == [start, start]
    assert {r.id for r in refs} == {
        NO2_NAME, NO2_NAME.replace("NO2___", "CH4___").replace("053815", "053811")
    }
    for ref in refs:
        path = s5p_meta / f"{ref.id}.nc"
        assert ref.href == path.resolve().as_uri()
        assert ref.checksum == stat_key(path) == file_key(path)
        assert ref.checksum != sha16(path), "a cheap key, not a hash of the whole file"
        assert ref.geometry is None and ref.item is None


@pytest.mark.parametrize(
    ("start", "end", "n"),
    [
        ("2020-03-03", "2020-03-03", 2),  # dates cover whole days
        ("2020-03-04", None, 0),
        (None, "2020-03-02", 0),
        (dt.datetime(2020, 3, 3, 3, 0), None, 2),  # naive = UTC; the orbit ends 03:17:17
        (dt.datetime(2020, 3, 3, 3, 20, tzinfo=UTC), None, 0),
        (None, dt.datetime(2020, 3, 3, 1, 35, 47, tzinfo=UTC), 2),  # bounds are inclusive
        (None, dt.datetime(2020, 3, 3, 1, 35, 46, tzinfo=UTC), 0),
    ],
)
def test_swath_reader_find__time_window_on_real_files(
    s5p_meta: Path, start: object, end: object, n: int
) -> None:
    assert len(SwathReader().find(s5p_meta, start, end)) == n  # type: ignore[arg-type]


def test_swath_reader_preflight__real_files_have_the_layout_but_no_science_variables(
    s5p_meta: Path,
) -> None:
    refs = SwathReader().find(s5p_meta)
    ok, skipped = SwathReader().preflight(
        refs, on_error="fail", needs={"variables": ["PRODUCT", "METADATA/GRANULE_DESCRIPTION"]}
    )
    assert ok == refs and skipped == []
    ok, skipped = SwathReader().preflight(
        refs, on_error="skip", needs={"variables": ["PRODUCT/qa_value"]}
    )
    assert ok == []
    assert [s.item_id for s in skipped] == [r.id for r in refs]
    assert all("PRODUCT/qa_value" in s.reason and s.asset == "PRODUCT/qa_value" for s in skipped)
    with pytest.raises(AssetReadError, match=r"S5P_OFFL_L2__.*PRODUCT/qa_value.*on_error='skip'"):
        SwathReader().preflight(refs, on_error="fail", needs={"variables": ["PRODUCT/qa_value"]})


# --- swaths: files written here -----------------------------------------------------------------


def test_s5p_times__parses_start_and_end_and_rejects_other_names() -> None:
    t0, t1 = s5p_times(f"/x/{NO2_NAME}.nc") or (None, None)
    assert t0 == dt.datetime(2020, 3, 3, 1, 35, 47, tzinfo=UTC)
    assert t1 == dt.datetime(2020, 3, 3, 3, 17, 17, tzinfo=UTC)
    assert s5p_times("swath_2020.nc") is None
    assert s5p_times("S5P_OFFL_L2__NO2____20201303T013547_20200303T031717_12367_x.nc") is None


def test_swath_reader_find__recursive_sorted_and_dated_by_attribute(tmp_path: Path) -> None:
    late = write_swath(tmp_path / "a" / s5p_name("20210602T100000", "20210602T114000"))
    early = write_swath(tmp_path / "b" / "deep" / s5p_name("20210601T100000", "20210601T114000"))
    other = write_swath(tmp_path / "plain.nc",
                        attrs={"time_coverage_start": "2021-06-01T12:00:00Z",
                               "time_coverage_end": "2021-06-01T13:00:00Z"})
    (tmp_path / "notes.txt").write_text("not a swath")
    refs = SwathReader().find(tmp_path)
    assert [r.href for r in refs] == [p.resolve().as_uri() for p in (early, other, late)]
    assert refs[1].datetime == dt.datetime(2021, 6, 1, 12, tzinfo=UTC)
    assert refs[1].id == "plain"
    # the attribute's end time counts for the window: 12:00-13:00 overlaps 12:30-...
    window = SwathReader().find(tmp_path, dt.datetime(2021, 6, 1, 12, 30, tzinfo=UTC),
                                "2021-06-01")
    assert [r.id for r in window] == ["plain"]
    # explicit paths instead of a folder
    assert [r.href for r in SwathReader().find([late, other])] == [
        other.resolve().as_uri(), late.resolve().as_uri()
    ]


def test_swath_reader_find__key_follows_size_and_mtime_and_pattern_selects_files(
    tmp_path: Path,
) -> None:
    a = write_swath(tmp_path / s5p_name("20210601T100000", "20210601T114000"))
    b = write_swath(tmp_path / "sub" / s5p_name("20210602T100000", "20210602T114000",
                                                product="L2__NO2___"))
    (before,) = SwathReader().find(a)
    assert before.checksum == stat_key(a)
    st = a.stat()
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # rewritten, same bytes
    (after,) = SwathReader().find(a)
    assert after.checksum == stat_key(a) and after.checksum != before.checksum
    copy = tmp_path / "other" / a.name
    copy.parent.mkdir()
    shutil.copy2(a, copy)
    assert SwathReader().find(copy)[0].checksum == after.checksum, "same name, size, mtime"
    assert [r.href for r in SwathReader().find(tmp_path, pattern="*_L2__NO2___*.nc")] == [
        b.resolve().as_uri()
    ]
    assert len(SwathReader().find(tmp_path)) == 3
    assert SwathReader().find(tmp_path, pattern="*.h5") == []


def test_local_path__file_uris_plain_paths_and_remote_urls() -> None:
    assert local_path("file:///data/a%20b.nc") == Path("/data/a b.nc")
    assert local_path("/data/x.nc") == Path("/data/x.nc")
    assert local_path("rel/x.nc") == Path("rel/x.nc")
    assert local_path("https://h/x.nc") is None
    assert local_path("s3://bucket/x.nc") is None


def test_preflight__remote_swaths_and_tables_are_skipped_with_the_fix() -> None:
    swath = InputRef("s", "https://h/s.nc", dt.datetime(2021, 6, 1, tzinfo=UTC), None)
    table = InputRef("t", "https://h/t.csv", None, None)
    for reader, ref in ((SwathReader(), swath), (TableReader(), table)):
        ok, skipped = reader.preflight([ref], on_error="skip", needs={})
        assert ok == [] and skipped[0].item_id == ref.id
        assert skipped[0].reason == "remote files are not supported yet; use a folder source"
        with pytest.raises(AssetReadError, match="remote files are not supported yet"):
            reader.preflight([ref], on_error="fail", needs={})


def test_swath_reader_find__missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nowhere"):
        SwathReader().find(tmp_path / "nowhere")


def test_swath_reader_preflight__corrupt_truncated_and_missing_files_are_skipped(
    tmp_path: Path,
) -> None:
    good = write_swath(tmp_path / s5p_name("20210601T100000", "20210601T114000"))
    garbage = tmp_path / s5p_name("20210602T100000", "20210602T114000")
    garbage.write_bytes(b"CDF\x01 not really a netcdf file" * 10)
    whole = write_swath(tmp_path / "src" / "whole.nc")
    truncated = tmp_path / s5p_name("20210603T100000", "20210603T114000")
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    shutil.rmtree(tmp_path / "src")
    undated = write_swath(tmp_path / "undated.nc")  # no S5P name, no time attribute
    refs = SwathReader().find(tmp_path)
    assert [r.datetime is None for r in refs] == [False, False, False, True]
    gone = InputRef("gone", (tmp_path / "gone.nc").as_uri(), None, None)

    ok, skipped = SwathReader().preflight([*refs, gone], on_error="skip",
                                          needs={"variables": ["PRODUCT/qa_value"]})
    assert [r.href for r in ok] == [good.resolve().as_uri()]
    reasons = {s.item_id: s.reason for s in skipped}
    assert set(reasons) == {garbage.stem, truncated.stem, undated.stem, "gone"}
    assert reasons[garbage.stem].startswith("cannot open as NetCDF4/HDF5")
    assert reasons[truncated.stem].startswith("cannot open as NetCDF4/HDF5")
    assert reasons[undated.stem].startswith("no sensing time")
    assert reasons["gone"] == "file not found"
    with pytest.raises(AssetReadError, match=garbage.stem):
        SwathReader().preflight(refs, on_error="fail", needs={})


def test_swath_reader_preflight__variables_in_nested_groups(tmp_path: Path) -> None:
    path = write_swath(tmp_path / "s.nc", variables=("PRODUCT/SUPPORT_DATA/GEOLOCATIONS/lat",
                                                     "PRODUCT/qa_value"),
                       attrs={"time_coverage_start": "2021-06-01T12:00:00Z"})
    refs = SwathReader().find(path)
    needs = {"variables": ["PRODUCT/SUPPORT_DATA/GEOLOCATIONS/lat", "/PRODUCT/qa_value",
                           "PRODUCT/SUPPORT_DATA"]}
    assert SwathReader().preflight(refs, on_error="fail", needs=needs) == (refs, [])
    _, skipped = SwathReader().preflight(
        refs, on_error="skip", needs={"variables": ["PRODUCT/SUPPORT_DATA/lat", "qa_value"]}
    )
    assert skipped[0].asset == "PRODUCT/SUPPORT_DATA/lat,qa_value"


# --- tables --------------------------------------------------------------------------------------


@pytest.fixture
def station_frame() -> pd.DataFrame:
    return pd.DataFrame({"station": ["A", "B"], "time": ["2019-05-01T00:00", "2019-05-01T01:00"],
                         "no2": [21.5, 30.0]})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_reader__columns_present_or_missing(tmp_path: Path, station_frame: pd.DataFrame,
                                                  suffix: str) -> None:
    path = tmp_path / f"stations{suffix}"
    if suffix == ".csv":
        station_frame.to_csv(path, index=False)
    else:
        station_frame.to_parquet(path)
    (ref,) = TableReader().find(path)
    assert ref.id == "stations" and ref.checksum == stat_key(path) == file_key(path)
    assert ref.href == path.resolve().as_uri()
    ok, skipped = TableReader().preflight([ref], on_error="fail",
                                          needs={"columns": ["station", "no2"]})
    assert ok == [ref] and skipped == []
    ok, skipped = TableReader().preflight([ref], on_error="skip",
                                          needs={"columns": ["station", "pm25"]})
    assert ok == []
    assert skipped[0].asset == "pm25" and skipped[0].reason == "missing column pm25"
    with pytest.raises(AssetReadError, match="pm25"):
        TableReader().preflight([ref], on_error="fail", needs={"columns": ["pm25"]})


def test_table_reader__unreadable_and_missing_tables_are_skipped(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"")
    refs = [*TableReader().find(bad), *TableReader().find(odd),
            *TableReader().find(tmp_path / "gone.csv")]
    assert refs[2].checksum is None
    ok, skipped = TableReader().preflight(refs, on_error="skip", needs={})
    assert ok == []
    assert [s.item_id for s in skipped] == ["bad", "data", "gone"]
    assert skipped[0].reason.startswith("cannot read as a table")
    assert "unknown table format" in skipped[1].reason
    assert skipped[2].reason == "file not found"


# --- optical scenes ------------------------------------------------------------------------------


def test_optical_reader_preflight__deleted_asset_is_skipped(world_copy: World) -> None:
    items = world_copy.items()
    refs = [InputRef.from_item(item) for item in items]
    assert refs[0].geometry is not None and refs[0].datetime == items[0].datetime
    red = next(k for k in items[2].assets if k.upper() in ("B04", "RED"))
    world_copy.band_path(2, red).unlink()
    scl = next(k for k in items[4].assets if k.upper() == "SCL")
    world_copy.band_path(4, scl).unlink()

    ok, skipped = OpticalReader().preflight(refs, on_error="skip",
                                            needs={"bands": ["red", "nir"], "mask": False})
    assert [r.id for r in ok] == [r.id for n, r in enumerate(refs) if n != 2]
    assert [(s.item_id, s.asset) for s in skipped] == [(refs[2].id, red)]

    ok, skipped = OpticalReader().preflight(refs, on_error="skip", needs={"bands": ["red"]})
    assert [s.item_id for s in skipped] == [refs[2].id, refs[4].id]  # the mask is checked too
    assert all(r.item is not None for r in ok) and len(ok) == len(refs) - 2
    with pytest.raises(AssetReadError, match=refs[2].id):
        OpticalReader().preflight(refs, on_error="fail", needs={"bands": ["red"]})


def test_optical_reader_preflight__refs_without_items_or_bands_are_refused() -> None:
    ref = InputRef("x", "mem://x", None, None)
    with pytest.raises(ValueError, match="bands"):
        OpticalReader().preflight([ref], on_error="skip", needs={})
    with pytest.raises(ValueError, match="from_item"):
        OpticalReader().preflight([ref], on_error="skip", needs={"bands": ["red"]})


# --- the protocol and the fake reader ------------------------------------------------------------


def test_reader__every_reader_satisfies_the_protocol() -> None:
    for reader in (OpticalReader(), SwathReader(), TableReader(), FakeReader([])):
        assert isinstance(reader, Reader)
    assert [r.kind for r in (OpticalReader(), SwathReader(), TableReader())] == [
        "optical", "swaths", "table"
    ]


def test_fake_reader__find_by_time_and_fail_policy() -> None:
    day = dt.datetime(2021, 6, 1, tzinfo=UTC)
    refs = [InputRef(f"s{n}", f"mem://s{n}", day + dt.timedelta(days=n), None) for n in range(5)]
    reader = FakeReader(refs, failing={"s1"})
    found = reader.find(day + dt.timedelta(days=1), day + dt.timedelta(days=3))
    assert [r.id for r in found] == ["s1", "s2", "s3"]
    ok, skipped = reader.preflight(found, on_error="skip", needs={})
    assert [r.id for r in ok] == ["s2", "s3"] and [s.item_id for s in skipped] == ["s1"]
    with pytest.raises(AssetReadError, match="s1"):
        reader.preflight(found, on_error="fail", needs={})
    assert reader.calls == [("s1", "s2", "s3")] * 2


@st.composite
def scattered_refs(draw: st.DrawFn) -> list[InputRef]:
    refs = []
    for n in range(draw(st.integers(0, 30))):
        x, y = draw(st.floats(9.5, 11.2)), draw(st.floats(39.5, 41.2))
        size = draw(st.floats(0.01, 0.5))
        refs.append(InputRef(f"scene-{n}", f"mem://{n}", None, box(x, y, x + size, y + size)))
    return refs


@settings(max_examples=50, deadline=None)
@given(refs=scattered_refs(), data=st.data(),
       block=st.tuples(st.integers(5, 60), st.integers(5, 60)))
def test_fake_reader__planning_after_preflight_uses_only_readable_scenes(
    refs: list[InputRef], data: st.DataObject, block: tuple[int, int]
) -> None:
    failing = data.draw(st.sets(st.sampled_from([r.id for r in refs]))) if refs else set()
    ok, skipped = FakeReader(refs, failing).preflight(refs, on_error="skip", needs={})
    assert {s.item_id for s in skipped} == failing
    assert len(ok) + len(skipped) == len(refs)
    gbox = GeoBox.from_bbox((10.0, 40.0, 11.0, 41.0), "EPSG:4326", shape=(100, 100))
    planned = plan_blocks(gbox, [r.geometry for r in ok if r.geometry is not None], block)
    used = {ok[i].id for b in planned for i in b.items}
    assert not used & failing
    grid = box(*gbox.extent.boundingbox)
    assert used == {r.id for r in ok if r.geometry is not None and r.geometry.intersects(grid)}
    for b in planned:
        tile = box(*b.tile.extent.boundingbox)
        assert all(shapely.intersects(ok[i].geometry, tile) for i in b.items)
