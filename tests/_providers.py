"""Item layouts of the public STAC catalogues rs reads, for tests/test_providers.py.

Each layout is written here by hand from the metadata of one real item published by that
catalogue (the item id and where it was read are given per layout): the fields that decide how
rs reads pixels (properties, asset keys, raster and projection metadata in the catalogue's own
STAC layout) carry the real item's values; everything else is left out. The real files are not
kept in this repository; tests/test_providers.py also runs on a folder of them (``RS_STAC_ITEMS``).

``expected`` states each provider's *documented* DN -> value rule, written independently of
rs.load._scale:

- ESA (S2 L2A baseline >= 04.00): reflectance = (DN + BOA_ADD_OFFSET) / 10000, BOA_ADD_OFFSET
  = -1000; before 04.00: DN / 10000.
- Element84 Earth Search (v1 ``earthsearch:boa_offset_applied``, v0 ``sentinel:boa_offset_applied``
  true): the offset is already applied to the COGs: reflectance = DN / 10000.
- USGS Collection 2 Level-2: SR = DN * 2.75e-5 - 0.2; ST (K) = DN * 0.00341802 + 149.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

S2 = (1e-4, 0.0)
S2_04 = (1e-4, -0.1)
SR = (2.75e-5, -0.2)
ST = (0.00341802, 149.0)


@dataclass(frozen=True)
class Layout:
    """One provider's item layout: ``item`` (a STAC item dict without geometry and hrefs),
    the grid of the tested assets (EPSG code, upper-left x, y, pixel size), and per common band
    ``(asset key, (scale, offset))`` by the provider's documentation."""

    name: str
    source: str
    item: dict[str, Any]
    epsg: int
    x0: float
    y0: float
    res: float
    expected: Mapping[str, tuple[str, tuple[float, float]]]


def _rb(scale: float | None = None, offset: float | None = None, **kw: Any) -> dict[str, Any]:
    rb: dict[str, Any] = {"nodata": 0, "data_type": "uint16", **kw}
    if scale is not None:
        rb["scale"] = scale
    if offset is not None:
        rb["offset"] = offset
    return rb


def _item(
    item_id: str, collection: str, when: str, props: dict[str, Any], assets: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "collection": collection,
        "properties": {"datetime": when, **props},
        "assets": assets,
        "links": [],
    }


def _earthsearch_v1_s2() -> Layout:
    t = [10, 0, 600000, 0, -10, 5200020]
    assets = {
        k: {"raster:bands": [_rb(0.0001, -0.1, bits_per_sample=15)], "proj:transform": t,
            "proj:shape": [10980, 10980]}
        for k in ("red", "nir", "swir16")
    }
    assets["swir16"]["proj:transform"] = [20, 0, 600000, 0, -20, 5200020]
    assets["scl"] = {"raster:bands": [{"nodata": 0, "data_type": "uint8"}]}
    item = _item(
        "S2A_32TPS_20230602_0_L2A", "sentinel-2-l2a", "2023-06-02T10:18:03Z",
        {"platform": "sentinel-2a", "constellation": "sentinel-2", "proj:epsg": 32632,
         "s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True},
        assets,
    )
    return Layout(
        "earth-search-v1 sentinel-2-l2a (offset applied)",
        "S2A_32TPS_20230602_0_L2A, Open-EO/openeo-processes-dask@ffd06ad6 tests/data/stac",
        item, 32632, 600000, 5200020, 10,
        {"red": ("red", S2), "nir": ("nir", S2)},
    )


def _earthsearch_v0_s2(year: int) -> Layout:
    if year == 2025:
        t = [10, 0, 600000, 0, -10, 3300040, 0, 0, 1]
        props = {"platform": "sentinel-2b", "constellation": "sentinel-2", "proj:epsg": 32720,
                 "sentinel:processing_baseline": "05.11", "sentinel:boa_offset_applied": True}
        item_id, when, epsg, y0 = "S2B_20EPT_20250731_0_L2A", "2025-07-31T13:19:22Z", 32720, 3300040
        source = "pystac-client@85f29a66 tests/cassettes (v0 /search)"
    else:
        t = [10, 0, 300000, 0, -10, 2300040, 0, 0, 1]
        props = {"platform": "sentinel-2a", "constellation": "sentinel-2", "proj:epsg": 32628,
                 "sentinel:product_id":
                     "S2A_MSIL2A_20200714T113321_N0214_R080_T28QCH_20200714T122544"}
        item_id, when, epsg, y0 = "S2A_28QCH_20200714_0_L2A", "2020-07-14T11:33:21Z", 32628, 2300040
        source = "opendatacube/odc-stac@da50696a libs/index/tests/data"
    assets = {k: {"proj:transform": t, "proj:shape": [10980, 10980]} for k in ("B04", "B08")}
    assets["SCL"] = {}
    item = _item(item_id, "sentinel-s2-l2a-cogs", when, props, assets)
    return Layout(
        f"earth-search-v0 sentinel-s2-l2a-cogs ({year})", f"{item_id}, {source}",
        item, epsg, t[2], y0, 10, {"red": ("B04", S2), "nir": ("B08", S2)},
    )


def _planetary_computer_s2(new: bool) -> Layout:
    if new:
        item_id = "S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251"
        when, baseline, epsg, x0, y0 = "2022-06-12T18:29:19Z", "04.00", 32624, 499980, 9100020
        source, refl = "stac-utils/stac-geoparquet@004ae5c7 tests", S2_04
    else:
        item_id = "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531"
        when, baseline, epsg, x0, y0 = "2019-06-29T21:25:29Z", "02.12", 32606, 399960, 6800040
        source, refl = "opendatacube/odc-stac@06504f60 libs/index/tests/data", S2
    t = [10, 0, x0, 0, -10, y0]
    assets = {
        k: {"proj:transform": t, "proj:shape": [10980, 10980], "gsd": 10.0}
        for k in ("B04", "B08")
    }
    assets["SCL"] = {"proj:transform": [20, 0, x0, 0, -20, y0]}
    item = _item(
        item_id, "sentinel-2-l2a", when,
        {"platform": "Sentinel-2B", "constellation": "Sentinel 2", "proj:epsg": epsg,
         "s2:processing_baseline": baseline},
        assets,
    )
    return Layout(
        f"planetary-computer sentinel-2-l2a (baseline {baseline})", f"{item_id}, {source}",
        item, epsg, x0, y0, 10, {"red": ("B04", refl), "nir": ("B08", refl)},
    )


def _cdse_s2(reprocessed: bool) -> Layout:
    if reprocessed:
        item_id = "S2B_MSIL2A_20200322T074609_N0500_R135_T36NYH_20230612T214223"
        when, version, epsg, x0, y0 = "2020-03-22T07:46:09Z", "05.00", 32636, 699960, 300000
    else:
        item_id = "S2C_MSIL2A_20260527T014651_N0512_R017_T55WFR_20260527T042005"
        when, version, epsg, x0, y0 = "2026-05-27T01:46:51Z", "05.12", 32655, 600000, 7600020
    assets = {
        key: {
            "bands": [{"name": band, "eo:common_name": common}],
            "raster:scale": 0.0001, "raster:offset": -0.1, "nodata": 0, "data_type": "uint16",
            "proj:code": f"EPSG:{epsg}", "proj:shape": [10980, 10980],
            "proj:transform": [10, 0, x0, 0, -10, y0],
        }
        for key, band, common in (("B04_10m", "B04", "red"), ("B08_10m", "B08", "nir"))
    }
    assets["SCL_20m"] = {"nodata": 0, "data_type": "uint8", "proj:code": f"EPSG:{epsg}"}
    item = _item(
        item_id, "sentinel-2-l2a", when,
        {"platform": "sentinel-2b" if reprocessed else "sentinel-2c",
         "constellation": "sentinel-2", "processing:version": version, "processing:level": "L2"},
        assets,
    )
    item["stac_version"] = "1.1.0"
    return Layout(
        f"cdse sentinel-2-l2a (processing:version {version})",
        f"{item_id}, Open-EO/openeo-geopyspark-driver@9baf2e10 tests/data/stac",
        item, epsg, x0, y0, 10, {"red": ("B04_10m", S2_04), "nir": ("B08_10m", S2_04)},
    )


def _landsat(name: str) -> Layout:
    """Planetary Computer / Earth Search v1 / USGS landsat items (item-level proj fields)."""
    sr_rb = [_rb(2.75e-05, -0.2)]
    st_rb = [_rb(0.00341802, 149.0, unit="kelvin")]
    rows: dict[str, tuple[str, str, str, dict[str, Any], int, float, float, str]] = {
        "pc-l8": ("LC08_L2SP_202033_20220327_02_T1", "landsat-c2-l2", "2022-03-27T11:01:55Z",
                  {"platform": "landsat-8"}, 32630, 138585.0, 4429515.0, "lwir11"),
        "es-l8": ("LC08_L2SP_033032_20231008_02_T1", "landsat-c2-l2", "2023-10-08T17:35:00Z",
                  {"platform": "landsat-8"}, 32613, 449085.0, 4581915.0, "lwir11"),
        "pc-l5": ("LT05_L2SP_010067_19860424_02_T2", "landsat-c2-l2", "1986-04-24T14:58:00Z",
                  {"platform": "landsat-5"}, 32617, 416685.0, -1014285.0, "lwir"),
        "usgs-l9-sr": ("LC09_L2SP_092068_20230607_20230609_02_T1_SR", "landsat-c2l2-sr",
                       "2023-06-07T23:48:00Z", {"platform": "LANDSAT_9"}, 32656, 310785.0,
                       -1163385.0, ""),
        "usgs-l5-st": ("LT05_L2SP_010067_19860424_20200918_02_T2_ST", "landsat-c2l2-st",
                       "1986-04-24T14:58:00Z", {"platform": "LANDSAT_5"}, 32617, 416685.0,
                       -1014285.0, "lwir"),
    }
    item_id, collection, when, props, epsg, x0, y0, thermal = rows[name]
    usgs = name.startswith("usgs")
    t = [30.0, 0.0, x0, 0.0, -30.0, y0]
    props = {**props, "proj:epsg": epsg, "proj:transform": t, "proj:shape": [8001, 7871],
             "landsat:correction": "L2SP"}
    expected: dict[str, tuple[str, tuple[float, float]]] = {}
    assets: dict[str, Any] = {"qa_pixel": {} if usgs else {"raster:bands": [{"nodata": 1}]}}
    if name != "usgs-l5-st":
        for band, key in (("red", "red"), ("nir", "nir08")):
            assets[key] = {} if usgs else {"raster:bands": sr_rb}
            expected[band] = (key, SR)
    if thermal:
        assets[thermal] = {} if usgs else {"raster:bands": st_rb}
        expected["thermal"] = (thermal, ST)
    source = {
        "pc-l8": "stac-utils/stac-geoparquet@004ae5c7 tests/cassettes (PC GET item)",
        "es-l8": "pystac-client@85f29a66 tests/cassettes (Earth Search v1 /search)",
        "pc-l5": "stactools-packages/landsat@bde55a5a examples/landsat-c2-l2 (how PC builds them)",
        "usgs-l9-sr": "stac-utils/stac-asset@9d56f660 tests/data (LandsatLook stac-server)",
        "usgs-l5-st": "stactools-packages/landsat@bde55a5a tests/data-files/tm (USGS _ST_stac)",
    }[name]
    return Layout(
        f"landsat {name}", f"{item_id}, {source}", _item(item_id, collection, when, props, assets),
        epsg, x0, y0, 30, expected,
    )


def _usgs_old_schema() -> Layout:
    """Older USGS schema: file-named asset keys, no proj fields at all (the grid is in the file)."""
    assets = {k: {} for k in ("SR_B4.TIF", "SR_B5.TIF", "QA_PIXEL.TIF", "ANG.txt")}
    item = _item(
        "LC08_L2SP_047027_20201204_20210313_02_T1", "landsat-c2l2-sr", "2020-12-04T19:01:00Z",
        {"eo:platform": "LANDSAT_8"}, assets,
    )
    item["stac_version"] = "1.0.0-beta.2"
    return Layout(
        "usgs landsatlook old schema (SR_B4.TIF, no proj)",
        "LC08_L2SP_047027_20201204_20210313_02_T1, stactools-packages/landsat@bde55a5a "
        "tests/data-files/oli-tirs",
        item, 32610, 499785.0, 5300415.0, 30,
        {"red": ("SR_B4.TIF", SR), "nir": ("SR_B5.TIF", SR)},
    )


LAYOUTS: tuple[Layout, ...] = (
    _earthsearch_v1_s2(),
    _earthsearch_v0_s2(2025),
    _earthsearch_v0_s2(2020),
    _planetary_computer_s2(True),
    _planetary_computer_s2(False),
    _cdse_s2(False),
    _cdse_s2(True),
    _landsat("pc-l8"),
    _landsat("es-l8"),
    _landsat("pc-l5"),
    _landsat("usgs-l9-sr"),
    _landsat("usgs-l5-st"),
    _usgs_old_schema(),
)

#: the documented rule per real item id, for a folder of real item JSON files (RS_STAC_ITEMS)
REAL_ITEMS: dict[str, dict[str, tuple[float, float]]] = {
    "S2A_32TPS_20230602_0_L2A": {"red": S2, "nir": S2},
    "S2B_20EPT_20250731_0_L2A": {"red": S2, "nir": S2},
    "S2A_28QCH_20200714_0_L2A": {"red": S2, "nir": S2},
    "S2B_MSIL2A_20220612T182919_R027_T24XWR_20220613T123251": {"red": S2_04, "nir": S2_04},
    "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531": {"red": S2, "nir": S2},
    "S2C_MSIL2A_20260527T014651_N0512_R017_T55WFR_20260527T042005": {"red": S2_04, "nir": S2_04},
    "S2B_MSIL2A_20200322T074609_N0500_R135_T36NYH_20230612T214223": {"red": S2_04, "nir": S2_04},
    "LC08_L2SP_202033_20220327_02_T1": {"red": SR, "nir": SR, "thermal": ST},
    "LC08_L2SP_033032_20231008_02_T1": {"red": SR, "nir": SR, "thermal": ST},
    "LT05_L2SP_010067_19860424_02_T2": {"red": SR, "nir": SR, "thermal": ST},
    "LC09_L2SP_092068_20230607_20230609_02_T1_SR": {"red": SR, "nir": SR},
    "LT05_L2SP_010067_19860424_20200918_02_T2_ST": {"thermal": ST},
    "LT05_L2SP_010067_19860424_20200918_02_T2_SR": {"red": SR, "nir": SR},
    "LC08_L2SP_047027_20201204_20210313_02_T1": {"red": SR, "nir": SR},
}
