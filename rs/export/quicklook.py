"""Quicklook PNGs read from a written COG's overviews (small reads, bounded memory).

One band is drawn with a colour ramp and, below the map, a legend strip: the layer name (with
its unit), the ramp, and the values at its two ends. Three bands make an RGB image, without a
legend. Values are physical (``stored * scale + offset`` from the COG); nodata is transparent.

:func:`write_quicklook` draws the PNG and returns a :class:`Quicklook` (what was drawn);
:func:`quicklook_asset` describes it for the product's STAC item.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, ImageDraw, ImageFont
from rasterio.enums import Resampling

from rs.export._atomic import atomic_path
from rs.export.stac_items import OutputAsset, file_asset

__all__ = ["Quicklook", "quicklook_asset", "write_quicklook"]

# A brown-to-green ramp for single-band vegetation indices (NDVI -0.2 .. 0.9).
_RAMP = np.array(
    [
        [140, 81, 10],
        [216, 179, 101],
        [246, 232, 195],
        [199, 234, 229],
        [90, 180, 172],
        [1, 133, 113],
        [0, 80, 40],
    ],
    dtype=np.float32,
)

# legend strip geometry (pixels)
_LEGEND_HEIGHT = 48
_LEGEND_MIN_WIDTH = 160
_PAD = 4
_BAR_TOP, _BAR_HEIGHT = 20, 10
_FONT_SIZE = 12


@dataclass(frozen=True)
class Quicklook:
    """A written quicklook: its path, the value range its colours span, its legend label."""

    path: Path
    value_range: tuple[float, float]  # physical units
    label: str | None = None  # the legend's label; None: no legend drawn (RGB, legend=False)


def _stretch(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.clip((a - lo) / (hi - lo), 0.0, 1.0)


def _ramp(s: np.ndarray) -> np.ndarray:
    """RGB (float, ..., 3) of the ramp at positions ``s`` in [0, 1] (NaN: the first colour)."""
    t = np.nan_to_num(s) * (len(_RAMP) - 1)
    i0 = np.clip(np.floor(t).astype(int), 0, len(_RAMP) - 2)
    f = (t - i0)[..., np.newaxis]
    return np.asarray(_RAMP[i0] * (1 - f) + _RAMP[i0 + 1] * f)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _with_legend(rgba: np.ndarray, label: str, lo: float, hi: float) -> np.ndarray:
    h, w = rgba.shape[:2]
    width = max(w, _LEGEND_MIN_WIDTH)
    canvas = np.zeros((h + _LEGEND_HEIGHT, width, 4), np.uint8)
    canvas[:h, :w] = rgba
    canvas[h:] = 255  # opaque white strip
    bar_w = width - 2 * _PAD
    bar = _ramp(np.linspace(0.0, 1.0, bar_w)).round().astype(np.uint8)
    y0 = h + _BAR_TOP
    canvas[y0 : y0 + _BAR_HEIGHT, _PAD : _PAD + bar_w, :3] = bar[np.newaxis]
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=_FONT_SIZE)
    black = (0, 0, 0, 255)
    draw.text((_PAD, h + 3), label, fill=black, font=font)
    y_text = y0 + _BAR_HEIGHT + 3
    draw.text((_PAD, y_text), _fmt(lo), fill=black, font=font)
    hi_text = _fmt(hi)
    x_hi = width - _PAD - draw.textlength(hi_text, font=font)
    draw.text((x_hi, y_text), hi_text, fill=black, font=font)
    return np.asarray(img)


def _label(name: str, unit: str | None) -> str:
    """``name [unit]``; no unit shown for none or the dimensionless ``"1"``."""
    return f"{name} [{unit}]" if unit and unit != "1" else name


def write_quicklook(
    cog: Path,
    png: Path,
    *,
    bands: Sequence[int] = (1,),
    max_size: int = 1024,
    value_range: tuple[float, float] | None = None,
    legend: bool = True,
    label: str | None = None,
) -> Quicklook:
    """Write an 8-bit PNG of ``cog`` at most ``max_size`` pixels on its long side.

    ``bands`` (1-based) are one band or three. Three bands make an RGB image stretched between
    their joint 2nd and 98th percentiles; one band is drawn with a vegetation colour ramp over
    ``value_range`` (default: percentiles; a given range needs low < high) and, when
    ``legend``, a legend strip below the map (``label``, default: the band's name and unit in
    the COG). Returns the path, the value range used and the legend label (``None`` when no
    legend was drawn).
    """
    bands = list(bands)
    if len(bands) not in (1, 3):
        raise ValueError(f"a quicklook draws 1 band (ramp) or 3 (RGB), got bands={bands}")
    if value_range is not None:
        lo, hi = (float(v) for v in value_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(
                f"value_range must be two finite numbers low < high, got {value_range}"
            )
    with rasterio.open(cog) as src:
        scale = max(src.width, src.height) / max_size
        out_w = max(1, round(src.width / max(scale, 1)))
        out_h = max(1, round(src.height / max(scale, 1)))
        data = src.read(
            bands, out_shape=(len(bands), out_h, out_w), resampling=Resampling.average
        ).astype(np.float32)
        nodata = src.nodata
        if nodata is not None and not math.isnan(nodata):
            data[data == np.float32(nodata)] = np.nan
        for k, b in enumerate(bands):
            data[k] = data[k] * src.scales[b - 1] + src.offsets[b - 1]
        name = src.descriptions[bands[0] - 1] or Path(cog).stem
        unit = src.units[bands[0] - 1]
    valid = np.all(np.isfinite(data), axis=0)
    finite = data[:, valid]
    if value_range is None:
        lo, hi = (float(v) for v in np.percentile(finite, [2, 98])) if finite.size else (0.0, 1.0)
        if hi <= lo:  # a constant layer
            hi = lo + 1e-6
    if len(bands) == 3:
        rgb = (_stretch(data, lo, hi) * 255).transpose(1, 2, 0)
    else:
        rgb = _ramp(_stretch(data[0], lo, hi))
    alpha = np.where(valid, 255, 0)[..., np.newaxis]
    rgba = np.concatenate([np.nan_to_num(rgb), alpha], axis=-1).astype(np.uint8)
    text = None
    if len(bands) == 1 and legend:
        text = label if label is not None else _label(name, unit)
        rgba = _with_legend(rgba, text, lo, hi)
    with atomic_path(png) as tmp:
        # fast zlib level: a quicklook is small either way, encoding time is not
        Image.fromarray(rgba).save(tmp, format="PNG", compress_level=1)
    return Quicklook(Path(png), (lo, hi), text)


def quicklook_asset(
    key: str,
    q: Quicklook,
    *,
    title: str | None = None,
    roles: Sequence[str] = ("overview",),
) -> OutputAsset:
    """The STAC asset of a quicklook written by :func:`write_quicklook`.

    ``extra`` records ``rs:value_range`` ([low, high], physical units, the colours' span),
    ``rs:legend`` (the label drawn) only when a legend was drawn, and ``file:size``.
    """
    extra: dict[str, object] = {"rs:value_range": [q.value_range[0], q.value_range[1]]}
    if q.label is not None:
        extra["rs:legend"] = q.label
    return file_asset(key, q.path, "image/png", roles=roles, title=title, extra=extra)
