"""Band alias tables and product detection (pure)."""

from __future__ import annotations

import pytest

from rs.errors import SourceError
from rs.load.bands import detect_product, mask_band_for, resolve_assets

S2_BANDS = ["blue", "green", "red", "nir", "swir16", "swir22", "scl"]
LS_BANDS = ["blue", "green", "red", "nir", "swir16", "swir22", "thermal", "qa_pixel"]


@pytest.mark.parametrize(
    ("collection", "props", "assets", "bands", "provider", "expected"),
    [
        (
            "sentinel-2-l2a",
            {"platform": "sentinel-2b"},
            ["blue", "green", "red", "nir", "nir08", "swir16", "swir22", "scl", "visual"],
            S2_BANDS,
            "earth-search-v1",
            ["blue", "green", "red", "nir", "swir16", "swir22", "scl"],
        ),
        (
            "sentinel-2-l2a",
            {"platform": "Sentinel-2A"},
            ["B01", "B02", "B03", "B04", "B08", "B8A", "B11", "B12", "SCL", "visual"],
            S2_BANDS,
            "planetary-computer",
            ["B02", "B03", "B04", "B08", "B11", "B12", "SCL"],
        ),
        (
            "SENTINEL-2",
            {},
            ["B02_10m", "B03_10m", "B04_10m", "B08_10m", "B11_20m", "B12_20m", "SCL_20m"],
            S2_BANDS,
            "cdse",
            ["B02_10m", "B03_10m", "B04_10m", "B08_10m", "B11_20m", "B12_20m", "SCL_20m"],
        ),
        (
            "landsat-c2-l2",
            {"platform": "landsat-8"},
            ["coastal", "blue", "green", "red", "nir08", "swir16", "swir22", "lwir11", "qa_pixel"],
            LS_BANDS,
            "earth-search-v1/planetary-computer",
            ["blue", "green", "red", "nir08", "swir16", "swir22", "lwir11", "qa_pixel"],
        ),
        (
            "landsat_ot_c2_l2",
            {"platform": "LANDSAT_9"},
            ["SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7", "ST_B10", "QA_PIXEL"],
            LS_BANDS,
            "usgs-oli",
            ["SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7", "ST_B10", "QA_PIXEL"],
        ),
        (
            "landsat_etm_c2_l2",
            {"platform": "LANDSAT_7"},
            ["SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B7", "ST_B6", "QA_PIXEL"],
            LS_BANDS,
            "usgs-tm-etm",
            ["SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B7", "ST_B6", "QA_PIXEL"],
        ),
    ],
)
def test_resolve_assets__per_provider(collection, props, assets, bands, provider, expected):
    product = detect_product(props, assets, collection)
    table, keys = resolve_assets(product, assets, bands, props)
    assert table.provider == provider
    assert [keys[b] for b in bands] == expected


def test_resolve_assets__nir_is_b08_for_s2_and_b5_for_landsat():
    _, s2 = resolve_assets("sentinel-2-l2a", ["B08", "B8A"], ["nir"])
    _, ls = resolve_assets("landsat-c2-l2", ["SR_B4", "SR_B5"], ["nir"], {"platform": "landsat-8"})
    assert s2 == {"nir": "B08"}
    assert ls == {"nir": "SR_B5"}


def test_detect_product__from_asset_keys_only():
    assert detect_product({}, ["B04", "SCL"]) == "sentinel-2-l2a"
    assert detect_product({}, ["SR_B4", "QA_PIXEL"]) == "landsat-c2-l2"
    assert mask_band_for("sentinel-2-l2a") == "scl"
    assert mask_band_for("landsat-c2-l2") == "qa_pixel"


def test_detect_product__unknown_raises_source_error():
    with pytest.raises(SourceError, match="cannot tell the product"):
        detect_product({"platform": "modis"}, ["sur_refl_b01"], "mod09")


def test_resolve_assets__missing_band_names_available_keys():
    with pytest.raises(SourceError, match=r"swir16.*B04"):
        resolve_assets("sentinel-2-l2a", ["B04"], ["red", "swir16"])


def test_resolve_assets__unknown_common_name_refused():
    with pytest.raises(SourceError, match="unknown band"):
        resolve_assets("sentinel-2-l2a", ["B04"], ["rededge"])


def test_resolve_assets__usgs_file_named_keys():
    """Older USGS items name assets after their files (``SR_B4.TIF``)."""
    keys = ["SR_B2.TIF", "SR_B3.TIF", "SR_B4.TIF", "SR_B5.TIF", "QA_PIXEL.TIF", "ANG.txt"]
    props = {"platform": "LANDSAT_8"}
    assert detect_product(props, keys) == "landsat-c2-l2"
    assert detect_product({}, keys) == "landsat-c2-l2"
    table, found = resolve_assets("landsat-c2-l2", keys, ["red", "nir", "qa_pixel"], props)
    assert table.provider == "usgs-oli"
    assert found == {"red": "SR_B4.TIF", "nir": "SR_B5.TIF", "qa_pixel": "QA_PIXEL.TIF"}


def test_resolve_assets__landsat_457_thermal_lwir():
    """Planetary Computer / Earth Search Landsat 4/5/7 key band 6 thermal ``lwir``."""
    keys = ["blue", "green", "red", "nir08", "swir16", "swir22", "lwir", "qa_pixel"]
    props = {"platform": "landsat-5"}
    _, found = resolve_assets("landsat-c2-l2", keys, ["red", "nir", "thermal"], props)
    assert found == {"red": "red", "nir": "nir08", "thermal": "lwir"}
    assert detect_product({}, ["lwir", "red"]) == "landsat-c2-l2"
