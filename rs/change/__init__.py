"""Change detection (pure): classes of change and connected change patches."""

from __future__ import annotations

from rs.change.patches import class_polygons, classify, merge_patches

__all__ = ["class_polygons", "classify", "merge_patches"]
