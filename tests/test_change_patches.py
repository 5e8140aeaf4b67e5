"""Change classes and patches: block-wise polygonisation merged across seams equals the whole."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from scipy import ndimage

from rs.change import class_polygons, classify, merge_patches

NAMES = {1: "decrease", 2: "increase"}
T = Affine(10, 0, 500_000, 0, -10, 3_500_000)


def test_classify__thresholds_and_nodata() -> None:
    d = np.array([-0.5, -0.2, 0.0, 0.2, 0.21, np.nan], dtype=np.float32)
    np.testing.assert_array_equal(classify(d, 0.2), [1, 0, 0, 0, 2, 255])


@pytest.mark.parametrize("block", [7, 16, 64])
def test_merge_patches__blocks_give_the_components_of_the_whole(block: int) -> None:
    rng = np.random.default_rng(5)
    # blobs: smoothed noise thresholded, so patches span many block seams
    noise = ndimage.uniform_filter(rng.random((64, 64)), 5)
    cls = np.where(noise > 0.56, 1, np.where(noise < 0.44, 2, 0)).astype(np.uint8)
    pieces: dict[int, list] = {1: [], 2: []}
    for r in range(0, 64, block):
        for c in range(0, 64, block):
            where = T @ Affine.translation(c, r)
            part = class_polygons(cls[r : r + block, c : c + block], where, NAMES)
            for k, polys in part.items():
                pieces[k].extend(polys)
    patches = merge_patches(pieces, NAMES)
    for k, name in NAMES.items():
        _, n = ndimage.label(cls == k)  # 4-connectivity, as rasterio's shapes
        mine = [p for cname, p in patches if cname == name]
        assert n > 1 and len(mine) == n, name
        assert sum(p.area for p in mine) == pytest.approx(100.0 * (cls == k).sum())
    big = merge_patches(pieces, NAMES, min_area=100.0 * 5)
    assert all(p.area >= 500 for _, p in big) and len(big) < len(patches)
