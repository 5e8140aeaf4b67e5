"""Cloud / shadow / snow masks from quality bands (pure, dask-friendly, no I/O).

Every function takes an integer array (numpy, dask or xarray) and returns a boolean array of the
same kind and shape; ``True`` means *masked* (drop the pixel).

Mask class names, shared by all quality bands:

``invalid``  nodata / fill / defective pixels
``cloud``    opaque cloud (S2 SCL 8, 9; Landsat C2 bits 1 dilated cloud and 3 cloud)
``cirrus``   thin cirrus (S2 SCL 10; Landsat C2 bit 2)
``shadow``   cloud shadow (S2 SCL 3; Landsat C2 bit 4)
``snow``     snow / ice (S2 SCL 11; Landsat C2 bit 5)
``water``    water (S2 SCL 6; Landsat C2 bit 7) -- never masked by default

References: ESA Sentinel-2 L2A Product Definition (SCL classes); USGS Landsat 8-9 Collection 2
Level-2 Science Product Guide LSDS-1619 (QA_PIXEL); USGS Landsat 8 Collection 1 Level-1 QA band
(BQA) description.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "BQA_C1_CONFIDENCE",
    "DEFAULT_MASK",
    "MASK_CLASSES",
    "QA_PIXEL_BITS",
    "SCL_CLASSES",
    "bqa_c1_mask",
    "decode_bqa_c1",
    "normalise_mask_classes",
    "qa_pixel_flags",
    "qa_pixel_mask",
    "scl_mask",
]

#: numpy, dask or xarray integer array; functions return the same kind.
Array = Any

MASK_CLASSES: tuple[str, ...] = ("invalid", "cloud", "cirrus", "shadow", "snow", "water")
#: Classes masked when the caller does not say otherwise.
DEFAULT_MASK: tuple[str, ...] = ("invalid", "cloud", "shadow", "snow")

#: Sentinel-2 scene classification values per mask class.
SCL_CLASSES: Mapping[str, tuple[int, ...]] = {
    "invalid": (0, 1),
    "shadow": (3,),
    "water": (6,),
    "cloud": (8, 9),
    "cirrus": (10,),
    "snow": (11,),
}

#: Landsat Collection 2 QA_PIXEL single-bit flags.
QA_PIXEL_BITS: Mapping[str, int] = {
    "fill": 0,
    "dilated_cloud": 1,
    "cirrus": 2,
    "cloud": 3,
    "shadow": 4,
    "snow": 5,
    "clear": 6,
    "water": 7,
}
_QA_CLASS_BITS: Mapping[str, tuple[int, ...]] = {
    "invalid": (0,),
    "cloud": (1, 3),
    "cirrus": (2,),
    "shadow": (4,),
    "snow": (5,),
    "water": (7,),
}

#: Landsat Collection 1 BQA two-bit confidence fields: name -> lowest bit.
#: Values: 0 not determined, 1 low, 2 medium, 3 high.
BQA_C1_CONFIDENCE: Mapping[str, int] = {
    "cloud_confidence": 5,
    "shadow_confidence": 7,
    "snow_confidence": 9,
    "cirrus_confidence": 11,
}
_CONFIDENCE_LEVELS = {"low": 1, "medium": 2, "high": 3}


def normalise_mask_classes(classes: Iterable[str] | str | None) -> tuple[str, ...]:
    """Validate mask class names; ``None`` -> :data:`DEFAULT_MASK`; a single name is allowed."""
    if classes is None:
        return DEFAULT_MASK
    names = (classes,) if isinstance(classes, str) else tuple(classes)
    bad = [c for c in names if c not in MASK_CLASSES]
    if bad:
        raise ValueError(f"unknown mask class(es) {bad}; choose from {list(MASK_CLASSES)}")
    return tuple(dict.fromkeys(names))


def _any(parts: list[Any]) -> Any:
    out = parts[0]
    for p in parts[1:]:
        out = out | p
    return out


def scl_mask(scl: Array, classes: Iterable[str] | str | None = None) -> Array:
    """``True`` where the Sentinel-2 SCL value belongs to one of ``classes``."""
    names = normalise_mask_classes(classes)
    values = sorted({v for c in names for v in SCL_CLASSES[c]})
    if not values:
        return scl != scl  # all False, same kind
    return _any([scl == v for v in values])


def _bit(qa: Any, bit: int) -> Any:
    return (qa >> bit) & 1 == 1


def qa_pixel_flags(qa: Array) -> dict[str, Array]:
    """Every Landsat Collection 2 QA_PIXEL single-bit flag as a boolean array."""
    return {name: _bit(qa, bit) for name, bit in QA_PIXEL_BITS.items()}


def qa_pixel_mask(qa: Array, classes: Iterable[str] | str | None = None) -> Array:
    """``True`` where a Landsat C2 QA_PIXEL bit of one of ``classes`` is set."""
    names = normalise_mask_classes(classes)
    bits = sorted({b for c in names for b in _QA_CLASS_BITS[c]})
    if not bits:
        return qa != qa
    mask = sum(1 << b for b in bits)
    return (qa & mask) != 0


def decode_bqa_c1(bqa: Array) -> dict[str, Array]:
    """Decode a Landsat Collection 1 BQA band.

    Returns ``fill`` and ``cloud`` (bits 0 and 4, boolean) and ``cloud_confidence``,
    ``shadow_confidence``, ``snow_confidence``, ``cirrus_confidence`` (two-bit fields at bits
    5-6, 7-8, 9-10, 11-12; integers 0 not determined, 1 low, 2 medium, 3 high).
    """
    out: dict[str, Any] = {"fill": _bit(bqa, 0), "cloud": _bit(bqa, 4)}
    for name, low in BQA_C1_CONFIDENCE.items():
        out[name] = (bqa >> low) & 3
    return out


def bqa_c1_mask(
    bqa: Array,
    classes: Iterable[str] | str | None = None,
    min_confidence: str = "high",
) -> Array:
    """``True`` where a Landsat C1 BQA pixel falls in ``classes`` at ``min_confidence`` or above.

    ``invalid`` is the fill bit; ``cloud`` is the cloud bit or cloud confidence at/above the
    threshold; ``cirrus``, ``shadow`` and ``snow`` use their confidence fields. C1 BQA has no
    water flag, so ``water`` masks nothing.
    """
    names = normalise_mask_classes(classes)
    if min_confidence not in _CONFIDENCE_LEVELS:
        raise ValueError(f"min_confidence must be one of {list(_CONFIDENCE_LEVELS)}")
    level = _CONFIDENCE_LEVELS[min_confidence]
    flags: dict[str, Any] = decode_bqa_c1(bqa)
    parts: list[Any] = []
    if "invalid" in names:
        parts.append(flags["fill"])
    if "cloud" in names:
        parts.append(flags["cloud"] | (flags["cloud_confidence"] >= level))
    for name in ("shadow", "snow", "cirrus"):
        if name in names:
            parts.append(flags[f"{name}_confidence"] >= level)
    if not parts:
        return bqa != bqa
    return _any(parts)
