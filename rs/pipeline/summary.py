"""Running per-layer statistics accumulated block by block (for the run summary)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LayerStats"]


@dataclass
class LayerStats:
    """Count, valid count, sum, min and max of one layer, merged over blocks."""

    name: str
    pixels: int = 0
    valid: int = 0
    total: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def add(self, block: np.ndarray) -> None:
        finite = block[np.isfinite(block)]
        self.pixels += block.size
        self.valid += finite.size
        if finite.size:
            self.total += float(finite.sum(dtype=np.float64))
            self.minimum = min(self.minimum, float(finite.min()))
            self.maximum = max(self.maximum, float(finite.max()))

    def as_dict(self, area_pixels: int | None = None) -> dict[str, float | int | str | None]:
        """Summary row; ``valid_fraction`` is relative to ``area_pixels`` (default: all pixels)."""
        has = self.valid > 0
        area = self.pixels if area_pixels is None else area_pixels
        return {
            "layer": self.name,
            "valid_fraction": round(self.valid / area, 4) if area else 0.0,
            "mean": round(self.total / self.valid, 4) if has else None,
            "min": round(self.minimum, 4) if has else None,
            "max": round(self.maximum, 4) if has else None,
        }
