"""Every public catalogue's item layout gives the provider's documented values, on its own grid.

Per layout (tests/_providers.py): the item's tested assets are pointed at small local GeoTIFFs of
random (non-constant) DN written on the item's own pixel grid; rs loads them at native resolution
in the native CRS, and every pixel must be the source pixel's DN turned into reflectance (or K) by
the provider's documented rule, within 1e-4. A grid half a pixel off (bilinear resampling) or an
offset applied twice fails this by far more than the tolerance.

With ``RS_STAC_ITEMS=<folder>`` (default ``../shared/data/real/stac_items`` when present) the same
check also runs on a folder of the real item JSON files (ids listed in
``tests/_providers.REAL_ITEMS``); otherwise that part is skipped.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from rasterio.warp import transform_bounds

from rs.load import load_optical
from tests._providers import LAYOUTS, REAL_ITEMS, Layout

H, W = 9, 11
_DN_RANGE = {"S2": (1_100, 12_000), "SR": (7_300, 43_000), "ST": (20_000, 50_000)}


def _kind(rule: tuple[float, float]) -> str:
    return "ST" if rule[1] == 149.0 else "SR" if rule[1] == -0.2 else "S2"


def _materialise(
    item_dict: dict[str, Any],
    epsg: int,
    x0: float,
    y0: float,
    res: float,
    assets: dict[str, tuple[str, tuple[float, float]]],
    folder: Path,
) -> tuple[pystac.Item, dict[str, np.ndarray]]:
    """The item with its tested assets pointed at H x W rasters at (x0, y0); other assets at a
    file that does not exist (never read)."""
    item = copy.deepcopy(item_dict)
    w, s, e, n = transform_bounds(f"EPSG:{epsg}", "EPSG:4326", x0, y0 - H * res, x0 + W * res, y0)
    item["geometry"] = {
        "type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]
    }
    item["bbox"] = [w, s, e, n]
    rng = np.random.default_rng(abs(hash(item["id"])) % 2**32)
    dns: dict[str, np.ndarray] = {}
    for band, (key, rule) in assets.items():
        lo, hi = _DN_RANGE[_kind(rule)]
        dn = rng.integers(lo, hi, size=(H, W)).astype("uint16")
        path = folder / f"{band}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", height=H, width=W, count=1, dtype="uint16",
            crs=f"EPSG:{epsg}", transform=Affine(res, 0, x0, 0, -res, y0), nodata=0,
        ) as dst:
            dst.write(dn, 1)
        item["assets"][key]["href"] = path.as_uri()
        dns[band] = dn
    for asset in item["assets"].values():
        asset.setdefault("href", (folder / "absent.tif").as_uri())
    return pystac.Item.from_dict(item), dns


def _check(item: pystac.Item, dns: dict[str, np.ndarray], layout_rules: dict[str, Any],
           epsg: int, x0: float, y0: float, res: float) -> None:
    ds = load_optical([item], list(dns), mask=None, crs=f"EPSG:{epsg}", resolution=res).compute()
    t = ds.odc.geobox.transform
    col0, row0 = (x0 - t.c) / res, (t.f - y0) / res
    assert abs(col0 - round(col0)) < 1e-6 and abs(row0 - round(row0)) < 1e-6, ds.attrs["grid"]
    r, c = round(row0), round(col0)
    for band, dn in dns.items():
        scale, offset = layout_rules[band]
        got = ds[band].values[0, r : r + H, c : c + W]
        assert got.shape == (H, W)
        want = dn.astype(np.float64) * scale + offset
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * max(1.0, abs(offset) / 10))


@pytest.mark.parametrize("layout", LAYOUTS, ids=[lay.name for lay in LAYOUTS])
def test_provider_layout__documented_values_on_the_source_grid(tmp_path: Path, layout: Layout):
    item, dns = _materialise(
        layout.item, layout.epsg, layout.x0, layout.y0, layout.res, dict(layout.expected),
        tmp_path,
    )
    rules = {band: rule for band, (_, rule) in layout.expected.items()}
    _check(item, dns, rules, layout.epsg, layout.x0, layout.y0, layout.res)


def test_provider_layout__rule_recorded(tmp_path: Path):
    """The rule that decided is kept: Earth Search's flag, CDSE's processing:version."""
    found = {}
    for n, layout in enumerate((LAYOUTS[0], LAYOUTS[6])):
        folder = tmp_path / str(n)
        folder.mkdir()
        item, _ = _materialise(
            layout.item, layout.epsg, layout.x0, layout.y0, layout.res, dict(layout.expected),
            folder,
        )
        (group,) = load_optical([item], ["red"], mask=None).attrs["scaling"]
        found[layout.name] = group["rule"]
    assert "earthsearch:boa_offset_applied=true" in found[LAYOUTS[0].name]
    assert "raster offset -0.1 ignored" in found[LAYOUTS[0].name]
    assert "processing:version=05.00 >= 04.00" in found[LAYOUTS[6].name]


_CANDIDATES = {
    "red": ("red", "B04", "B04_10m", "SR_B4.TIF"),
    "nir": ("nir", "B08", "B08_10m", "nir08", "SR_B5.TIF"),
    "thermal": ("lwir11", "lwir"),
}


def _real_grid(item: dict[str, Any], key: str) -> tuple[int, float, float, float]:
    fields = [item["assets"][key], item["properties"]]
    epsg = next((f.get("proj:epsg") for f in fields if f.get("proj:epsg")), None)
    code = next((f.get("proj:code") for f in fields if f.get("proj:code")), None)
    t = next((f.get("proj:transform") for f in fields if f.get("proj:transform")), None)
    if t is None:  # no proj fields (older USGS schema): any UTM grid of Landsat's kind
        return 32610, 499785.0, 5300415.0, 30.0
    code_epsg = int(str(code).split(":")[1]) if code else None
    return int(epsg or code_epsg or 0), float(t[2]), float(t[5]), abs(float(t[0]))


_SHARED_ITEMS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "stac_items"


def _real_files() -> list[Path]:
    folder = os.environ.get("RS_STAC_ITEMS") or (_SHARED_ITEMS if _SHARED_ITEMS.is_dir() else None)
    return sorted(Path(folder).glob("*.json")) if folder else []


@pytest.mark.skipif(not _real_files(), reason="set RS_STAC_ITEMS to a folder of real item JSON")
@pytest.mark.parametrize("path", _real_files(), ids=lambda p: p.stem)
def test_real_item__documented_values_on_the_source_grid(tmp_path: Path, path: Path):
    item = json.loads(path.read_text(encoding="utf-8"))
    rules = REAL_ITEMS.get(item["id"])
    if rules is None:
        pytest.skip(f"{item['id']}: no documented rule listed in tests/_providers.REAL_ITEMS")
    assets = {}
    for band, rule in rules.items():
        key = next(k for k in _CANDIDATES[band] if k in item["assets"])
        assets[band] = (key, rule)
    epsg, x0, y0, res = _real_grid(item, next(iter(assets.values()))[0])
    for key, _ in assets.values():
        item["assets"][key].pop("href", None)
    for asset in item["assets"].values():  # never read; remote or relative hrefs
        asset.pop("href", None)
    obj, dns = _materialise(item, epsg, x0, y0, res, assets, tmp_path)
    _check(obj, dns, dict(rules), epsg, x0, y0, res)
