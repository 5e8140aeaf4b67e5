"""QGIS styles (QML) for the main layers, found by QGIS's own conventions.

QGIS applies a style without being asked when

- a raster or a Shapefile has a ``.qml`` of the same name beside it (``x.tif`` -> ``x.qml``);
- a GeoPackage holds a ``layer_styles`` table with a row for the layer
  (``f_table_name``, ``f_geometry_column``, ``styleName``, ``styleQML``, ``styleSLD``,
  ``useAsDefault`` = 1, ...), the table QGIS itself writes on "Save as default".

:func:`write_raster_style` writes the ``.qml`` beside a COG; :func:`write_vector_style` writes the
``.qml`` beside a GeoPackage and the ``layer_styles`` row into it (called by
:func:`rs.export.vectors.write_vector` with ``style=``, before the file is renamed into place,
so its ``file:size`` stays true). Both return the ``.qml`` as an asset with role ``style``.

The styles: :data:`RSEI_CLASSES` (``rsei_class.tif``), :data:`TREND_CLASSES`
(``trend_class.tif``), :data:`REDLINE_TYPES` (``redline_patches`` by ``type``) and
:func:`s5p_ramp` (``mean.tif`` of ``s5p-grid``: NO2 in molecules cm⁻², XCH4 in ppb, the units
the product writes). QML is generated here (no template files to ship).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rs.export._atomic import atomic_path
from rs.export.stac_items import OutputAsset, file_asset

__all__ = [
    "QML_MEDIA_TYPE",
    "REDLINE_TYPES",
    "RSEI_CLASSES",
    "TREND_CLASSES",
    "Categories",
    "Ramp",
    "qml",
    "s5p_ramp",
    "sld",
    "write_gpkg_style",
    "write_raster_style",
    "write_vector_style",
]

QML_MEDIA_TYPE = "text/xml"
_QGIS_VERSION = "3.28.0"


@dataclass(frozen=True)
class Categories:
    """A categorised style: ``value -> (label, "#rrggbb")``; on a raster band (paletted
    renderer; values are the integer codes) or on the vector ``attribute``."""

    title: str
    classes: Mapping[int | str, tuple[str, str]]
    attribute: str | None = None  # vector layers: the field categorised


@dataclass(frozen=True)
class Ramp:
    """A single-band pseudocolour ramp: ``stops`` are ``(value, "#rrggbb")``, interpolated."""

    title: str
    unit: str
    stops: tuple[tuple[float, str], ...]


#: rsei_class.tif: 1 poor .. 5 excellent (rs.ecology.rsei.CLASS_NAMES); 0 is the nodata
RSEI_CLASSES = Categories("RSEI class", {
    1: ("poor", "#d7191c"), 2: ("fair", "#fdae61"), 3: ("moderate", "#ffffbf"),
    4: ("good", "#a6d96a"), 5: ("excellent", "#1a9641"),
})

#: trend_class.tif (rs.products.trend.CLASS_NAMES); 0 is the nodata
TREND_CLASSES = Categories("trend class", {
    1: ("significant degradation", "#ca0020"), 2: ("stable", "#f0f0f0"),
    3: ("significant improvement", "#0571b0"),
})

#: redline_patches by type: rs.change.typing_model.TYPES and "unclassified" (no model)
REDLINE_TYPES = Categories("change patch type", {
    "construction": ("construction", "#e31a1c"), "mining": ("mining", "#6a3d9a"),
    "road": ("road", "#525252"), "farmland_reclamation": ("farmland reclamation", "#ffd92f"),
    "water_engineering": ("water engineering", "#1f78b4"),
    "vegetation_loss": ("vegetation loss", "#ff7f00"), "unclassified": ("unclassified", "#bdbdbd"),
}, attribute="type")

_VIRIDIS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
_MAGMA = ("#000004", "#51127c", "#b73779", "#fc8961", "#fcfdbf")


def s5p_ramp(product: str) -> Ramp:
    """The ramp of ``s5p-grid``'s ``mean.tif``: NO2 tropospheric column 0 .. 1.2e16 molecules
    cm⁻² (background ~1e15, city plumes 1e16; the product converts mol m⁻² to molecules cm⁻²),
    XCH4 (``ch4``, ``ch4_blended``) 1800 .. 1950 ppb."""
    if product == "no2":
        lo, hi, unit, colours, title = 0.0, 1.2e16, "molecules cm-2", _MAGMA, "NO2 column"
    elif product in ("ch4", "ch4_blended"):
        lo, hi, unit, colours, title = 1800.0, 1950.0, "ppb", _VIRIDIS, "XCH4"
    else:
        raise ValueError(f"no colour ramp for product {product!r}; use no2, ch4 or ch4_blended")
    n = len(colours) - 1
    return Ramp(title, unit, tuple((lo + (hi - lo) * i / n, c) for i, c in enumerate(colours)))


def _rgb(colour: str) -> str:
    h = colour.lstrip("#")
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"


def _opt(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "Option", name=name, type="QString", value=value)


def _raster_renderer(pipe: ET.Element, style: Categories | Ramp) -> None:
    if isinstance(style, Categories):
        r = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity="1",
                          alphaBand="-1", nodataColor="")
        ET.SubElement(r, "rasterTransparency")
        pal = ET.SubElement(r, "colorPalette")
        for v, (label, colour) in style.classes.items():
            ET.SubElement(pal, "paletteEntry", value=str(v), color=colour, alpha="255",
                          label=label)
        return
    lo, hi = repr(style.stops[0][0]), repr(style.stops[-1][0])
    r = ET.SubElement(pipe, "rasterrenderer", type="singlebandpseudocolor", band="1",
                      opacity="1", alphaBand="-1", nodataColor="", classificationMin=lo,
                      classificationMax=hi)
    ET.SubElement(r, "rasterTransparency")
    mm = ET.SubElement(r, "minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"),
                      ("statAccuracy", "Estimated")):
        ET.SubElement(mm, tag).text = text
    shader = ET.SubElement(ET.SubElement(r, "rastershader"), "colorrampshader",
                           colorRampType="INTERPOLATED", classificationMode="1", clip="0",
                           minimumValue=lo, maximumValue=hi, labelPrecision="4")
    for stop, colour in style.stops:
        ET.SubElement(shader, "item", value=repr(stop), color=colour, alpha="255",
                      label=f"{stop:g} {style.unit}")


def _fill_symbol(parent: ET.Element, name: str, colour: str) -> None:
    sym = ET.SubElement(parent, "symbol", type="fill", name=name, alpha="1",
                        clip_to_extent="1", force_rhr="0")
    layer = ET.SubElement(sym, "layer", {"class": "SimpleFill", "enabled": "1",
                                         "locked": "0", "pass": "0"})
    opts = ET.SubElement(layer, "Option", type="Map")
    for k, v in (("color", _rgb(colour)), ("outline_color", "35,35,35,255"),
                 ("outline_style", "solid"), ("outline_width", "0.26"),
                 ("outline_width_unit", "MM"), ("style", "solid")):
        _opt(opts, k, v)


def _vector_renderer(root: ET.Element, style: Categories, attribute: str) -> None:
    r = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=attribute,
                      symbollevels="0", enableorderby="0", forceraster="0")
    cats = ET.SubElement(r, "categories")
    symbols = ET.SubElement(r, "symbols")
    for i, (v, (label, colour)) in enumerate(style.classes.items()):
        ET.SubElement(cats, "category", value=str(v), symbol=str(i), label=label,
                      render="true")
        _fill_symbol(symbols, str(i), colour)


def qml(style: Categories | Ramp, *, vector: bool = False,
        attribute: str | None = None) -> str:
    """The QML document of ``style``: a raster renderer (paletted or pseudocolour on band 1),
    or with ``vector`` a categorised fill renderer on ``attribute`` (default: the style's)."""
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="AllStyleCategories")
    if vector:
        if not isinstance(style, Categories):
            raise ValueError("a vector style is categorised: give a Categories")
        attr = attribute or style.attribute
        if attr is None:
            raise ValueError(f"style {style.title!r} names no attribute to categorise")
        _vector_renderer(root, style, attr)
    else:
        _raster_renderer(ET.SubElement(root, "pipe"), style)
        ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def sld(style: Categories, layer: str, attribute: str | None = None) -> str:
    """An OGC SLD 1.1 of a categorised vector style (``layer_styles.styleSLD``)."""
    ns = {"": "http://www.opengis.net/sld", "se": "http://www.opengis.net/se",
          "ogc": "http://www.opengis.net/ogc"}
    for p, uri in ns.items():
        ET.register_namespace(p, uri)
    sld_, se, ogc = (f"{{{ns[k]}}}" for k in ("", "se", "ogc"))
    root = ET.Element(f"{sld_}StyledLayerDescriptor", version="1.1.0")
    named = ET.SubElement(root, f"{sld_}NamedLayer")
    ET.SubElement(named, f"{se}Name").text = layer
    fts = ET.SubElement(ET.SubElement(named, f"{sld_}UserStyle"), f"{se}FeatureTypeStyle")
    attr = attribute or style.attribute or ""
    for v, (label, colour) in style.classes.items():
        rule = ET.SubElement(fts, f"{se}Rule")
        ET.SubElement(rule, f"{se}Name").text = label
        eq = ET.SubElement(ET.SubElement(rule, f"{ogc}Filter"), f"{ogc}PropertyIsEqualTo")
        ET.SubElement(eq, f"{ogc}PropertyName").text = attr
        ET.SubElement(eq, f"{ogc}Literal").text = str(v)
        sym = ET.SubElement(rule, f"{se}PolygonSymbolizer")
        fill = ET.SubElement(ET.SubElement(sym, f"{se}Fill"), f"{se}SvgParameter", name="fill")
        fill.text = colour
    return ET.tostring(root, encoding="unicode")


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def _asset(key: str, path: Path, style: Categories | Ramp, what: str) -> OutputAsset:
    return file_asset(f"{key}_style", path, QML_MEDIA_TYPE, roles=("style", "metadata"),
                      title=f"QGIS style of {what}: {style.title}")


def write_raster_style(raster: Path, key: str, style: Categories | Ramp) -> OutputAsset:
    """Write ``<raster stem>.qml`` beside ``raster`` (QGIS loads it with the raster); the
    asset ``<key>_style``."""
    path = Path(raster).with_suffix(".qml")
    _write_text(path, qml(style))
    return _asset(key, path, style, key)


def write_gpkg_style(gpkg: Path, layer: str, style: Categories,
                     attribute: str | None = None) -> None:
    """Add the ``layer_styles`` row of ``layer`` (``useAsDefault`` 1) to ``gpkg``, creating
    the table as QGIS does (an OGR attributes table with FID ``id``) when missing."""
    import pandas as pd
    import pyogrio

    geom = pyogrio.read_info(gpkg, layer=layer)["geometry_name"] or "geom"
    row = pd.DataFrame({
        "f_table_catalog": [""], "f_table_schema": [""], "f_table_name": [layer],
        "f_geometry_column": [geom], "styleName": [layer],
        "styleQML": [qml(style, vector=True, attribute=attribute)],
        "styleSLD": [sld(style, layer, attribute)], "useAsDefault": [True],
        "description": [f"rs: {style.title}"], "owner": [""], "ui": [""],
        "update_time": [pd.Timestamp(dt.datetime.now(dt.UTC))],
    })
    exists = "layer_styles" in {str(n) for n, _ in pyogrio.list_layers(gpkg)}
    pyogrio.write_dataframe(row, gpkg, layer="layer_styles", driver="GPKG", append=exists,
                            layer_options=None if exists else {"FID": "id"})


def write_vector_style(gpkg: Path, layer: str, key: str, style: Categories,
                       qml_path: Path | None = None) -> OutputAsset:
    """The ``layer_styles`` row in ``gpkg`` and ``<gpkg stem>.qml`` (or ``qml_path``) beside
    it; the asset ``<key>_style``."""
    write_gpkg_style(gpkg, layer, style)
    path = qml_path or Path(gpkg).with_suffix(".qml")
    _write_text(path, qml(style, vector=True))
    return _asset(key, path, style, f"layer {layer}")
