"""Common band names and per-provider asset-key alias tables (pure, no I/O).

One vocabulary for the rest of rs: ``blue, green, red, nir, swir16, swir22, thermal`` plus the
mask bands ``scl`` (Sentinel-2 scene classification) and ``qa_pixel`` (Landsat quality bits).
Sentinel-2 also offers ``nir08`` (B8A, the narrow 865 nm band).

The common ``nir`` is **B08** for Sentinel-2 and **nir08 / SR_B5 (OLI)** for Landsat.

Which provider an item comes from is read off its asset keys: the first alias table of the item's
product whose keys for *all* requested bands exist in the item wins. Older USGS items name their
assets after the files (``SR_B4.TIF``, ``QA_PIXEL.TIF``): a ``.TIF`` suffix is ignored when keys
are matched.

Layouts covered: Earth Search v1 (``red``, ``nir``, ``scl``; Landsat ``nir08``, ``lwir11``),
Earth Search v0 and Planetary Computer (``B04``, ``B08``, ``SCL``), CDSE (``B04_10m``,
``SCL_20m``), Planetary Computer / Earth Search Landsat 4/5/7 (thermal ``lwir``, band 6), USGS
LandsatLook (``SR_B4`` / ``ST_B10`` for OLI/TIRS, ``SR_B3`` / ``ST_B6`` for TM/ETM+, with or
without ``.TIF``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rs.errors import SourceError

__all__ = [
    "ALIAS_TABLES",
    "COMMON_BANDS",
    "MASK_BANDS",
    "AliasTable",
    "Product",
    "detect_product",
    "mask_band_for",
    "resolve_assets",
]

Product = Literal["sentinel-2-l2a", "landsat-c2-l2"]

#: Bands carrying a physical quantity (reflectance or brightness temperature).
COMMON_BANDS: tuple[str, ...] = (
    "blue",
    "green",
    "red",
    "nir",
    "nir08",
    "swir16",
    "swir22",
    "thermal",
)
#: Bands carrying classification / quality bits; never scaled, resampled with ``nearest``.
MASK_BANDS: tuple[str, ...] = ("scl", "qa_pixel")


@dataclass(frozen=True)
class AliasTable:
    """Asset keys of one provider for one product: common band name -> asset key."""

    product: Product
    provider: str
    keys: Mapping[str, str]


_S2: Product = "sentinel-2-l2a"
_LS: Product = "landsat-c2-l2"

ALIAS_TABLES: tuple[AliasTable, ...] = (
    AliasTable(
        _S2,
        "earth-search-v1",
        {
            "blue": "blue",
            "green": "green",
            "red": "red",
            "nir": "nir",
            "nir08": "nir08",
            "swir16": "swir16",
            "swir22": "swir22",
            "scl": "scl",
        },
    ),
    AliasTable(
        _S2,
        "planetary-computer",
        {
            "blue": "B02",
            "green": "B03",
            "red": "B04",
            "nir": "B08",
            "nir08": "B8A",
            "swir16": "B11",
            "swir22": "B12",
            "scl": "SCL",
        },
    ),
    AliasTable(
        _S2,
        "cdse",
        {
            "blue": "B02_10m",
            "green": "B03_10m",
            "red": "B04_10m",
            "nir": "B08_10m",
            "nir08": "B8A_20m",
            "swir16": "B11_20m",
            "swir22": "B12_20m",
            "scl": "SCL_20m",
        },
    ),
    # Earth Search v1 and Planetary Computer use the same Landsat keys.
    AliasTable(
        _LS,
        "earth-search-v1/planetary-computer",
        {
            "blue": "blue",
            "green": "green",
            "red": "red",
            "nir": "nir08",
            "swir16": "swir16",
            "swir22": "swir22",
            "thermal": "lwir11",
            "qa_pixel": "qa_pixel",
        },
    ),
    # Earth Search v1 and Planetary Computer, Landsat 4/5/7: band 6 thermal keyed "lwir".
    AliasTable(
        _LS,
        "earth-search-v1/planetary-computer tm/etm",
        {
            "blue": "blue",
            "green": "green",
            "red": "red",
            "nir": "nir08",
            "swir16": "swir16",
            "swir22": "swir22",
            "thermal": "lwir",
            "qa_pixel": "qa_pixel",
        },
    ),
    # USGS keys, Landsat 8/9 OLI/TIRS.
    AliasTable(
        _LS,
        "usgs-oli",
        {
            "blue": "SR_B2",
            "green": "SR_B3",
            "red": "SR_B4",
            "nir": "SR_B5",
            "swir16": "SR_B6",
            "swir22": "SR_B7",
            "thermal": "ST_B10",
            "qa_pixel": "QA_PIXEL",
        },
    ),
    # USGS keys, Landsat 4/5 TM and 7 ETM+ (different band numbers).
    AliasTable(
        _LS,
        "usgs-tm-etm",
        {
            "blue": "SR_B1",
            "green": "SR_B2",
            "red": "SR_B3",
            "nir": "SR_B4",
            "swir16": "SR_B5",
            "swir22": "SR_B7",
            "thermal": "ST_B6",
            "qa_pixel": "QA_PIXEL",
        },
    ),
)


def mask_band_for(product: Product) -> str:
    """The mask band of ``product``: ``scl`` for Sentinel-2, ``qa_pixel`` for Landsat."""
    return "scl" if product == _S2 else "qa_pixel"


def _file_keys(asset_keys: Sequence[str]) -> dict[str, str]:
    """``{key without a .TIF suffix: key in the item}``; an exact key wins over a suffixed one."""
    out: dict[str, str] = {}
    for key in asset_keys:
        bare = key[:-4] if key.lower().endswith(".tif") else key
        if bare not in out or bare == key:
            out[bare] = key
    return out


def _lower(value: Any) -> str:
    return str(value).lower() if value is not None else ""


def detect_product(
    properties: Mapping[str, Any],
    asset_keys: Sequence[str],
    collection_id: str | None = None,
) -> Product:
    """Product of an item from its platform, constellation, collection id or asset keys.

    Raises :class:`SourceError` when nothing identifies Sentinel-2 L2A or Landsat C2 L2.
    """
    platform = _lower(properties.get("platform") or properties.get("eo:platform"))
    constellation = _lower(properties.get("constellation"))
    collection = _lower(collection_id)
    for text in (constellation, platform, collection):
        compact = text.replace("-", "").replace("_", "").replace(" ", "")
        if compact.startswith(("sentinel2", "s2")):
            return _S2
        if compact.startswith("landsat"):
            return _LS
    keys = set(_file_keys(asset_keys))
    if keys & {"scl", "SCL", "SCL_20m", "B8A", "B8A_20m"}:
        return _S2
    if keys & {"qa_pixel", "QA_PIXEL", "lwir11", "lwir", "ST_B10", "ST_B6"}:
        return _LS
    raise SourceError(
        f"cannot tell the product of item (collection={collection_id!r}, platform={platform!r}, "
        f"assets={sorted(keys)}): rs.load reads Sentinel-2 L2A and Landsat Collection 2 Level-2; "
        "set 'platform' or 'constellation' on the item or use one of these collections"
    )


def resolve_assets(
    product: Product,
    asset_keys: Sequence[str],
    bands: Sequence[str],
    properties: Mapping[str, Any] | None = None,
) -> tuple[AliasTable, dict[str, str]]:
    """Map common ``bands`` to this item's asset keys.

    Returns the matching alias table and ``{common band: asset key}``. Raises
    :class:`SourceError` naming the missing bands and the available asset keys when no table of
    ``product`` covers every requested band.
    """
    unknown = [b for b in bands if b not in COMMON_BANDS and b not in MASK_BANDS]
    if unknown:
        raise SourceError(
            f"unknown band name(s) {unknown}: use common names from "
            f"{list(COMMON_BANDS) + list(MASK_BANDS)}"
        )
    actual = _file_keys(asset_keys)
    keys = set(actual)
    tables = [t for t in ALIAS_TABLES if t.product == product]
    props = properties or {}
    platform = _lower(props.get("platform") or props.get("eo:platform")).replace("_", "-")
    if any(p in platform for p in ("landsat-4", "landsat-5", "landsat-7")):
        # USGS TM/ETM+ numbering must win over OLI numbering for these platforms.
        tables.sort(key=lambda t: t.provider != "usgs-tm-etm")
    for table in tables:
        if all(b in table.keys and table.keys[b] in keys for b in bands):
            return table, {b: actual[table.keys[b]] for b in bands}
    missing = {
        t.provider: [b for b in bands if b not in t.keys or t.keys[b] not in keys] for t in tables
    }
    raise SourceError(
        f"no {product} alias table covers bands {list(bands)} for assets {sorted(asset_keys)} "
        f"(missing per provider: {missing}); request bands this item has, or add its provider's "
        "keys to rs.load.bands.ALIAS_TABLES"
    )
