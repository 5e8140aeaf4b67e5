"""Read a vector layer from any file GDAL opens (I/O), picking the geometry layer when a file
has several: a GeoPackage written by rs also holds QGIS's ``layer_styles`` table (no geometry),
and reading it without a layer name would warn and guess."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["geometry_layers", "read_vector"]


def geometry_layers(path: str | os.PathLike[str]) -> list[str]:
    """The names of the layers of ``path`` that have geometries."""
    import pyogrio

    return [str(name) for name, gtype in pyogrio.list_layers(path) if gtype is not None]


def read_vector(path: str | os.PathLike[str], layer: str | None = None) -> gpd.GeoDataFrame:
    """Layer ``layer`` of ``path``; without a name, its one geometry layer (a
    :class:`~rs.errors.SpecError` naming them when there are several). Read errors are GDAL's
    own (callers word them)."""
    import geopandas as gpd

    from rs.errors import SpecError

    if layer is None:
        layers = geometry_layers(path)
        if len(layers) > 1:
            raise SpecError(f"{os.fspath(path)} has several layers with geometries {layers}; "
                            "keep the one to use in a file of its own")
        layer = layers[0] if layers else None
    return gpd.read_file(path, layer=layer) if layer is not None else gpd.read_file(path)
