"""The field verification loop of change patches (pure: GeoDataFrames in and out).

A patch layer has a ``verification`` column (one of :data:`VERDICTS`: unverified, confirmed,
rejected) and a ``note`` column that field teams fill in (QGIS, QField). A later run's patches
are matched to the previous layer (:func:`carry_verdicts`): a new patch that overlaps a
previous one enough (IoU, or the share of the new patch covered, above a threshold) keeps that
patch's verdict and note; patches matching a rejected one are not reported again (dropped, or
kept and flagged ``previously_rejected``); anything else is ``unverified``.
:func:`training_rows` turns confirmed and rejected patches into labelled rows for
``rs train-change``: a confirmed patch is labelled with its (field-corrected) type, a rejected
one :data:`NOT_ACTIVITY`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import shapely

from rs.errors import RsWarning, SpecError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "NOT_ACTIVITY",
    "VERDICTS",
    "carry_verdicts",
    "normalise_verdicts",
    "training_rows",
]

#: the values of the ``verification`` column
VERDICTS: tuple[str, ...] = ("unverified", "confirmed", "rejected")

#: the label of a rejected patch among training rows (a detection that is no human activity)
NOT_ACTIVITY = "not_activity"

Measure = Literal["iou", "overlap"]


def normalise_verdicts(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of ``layer`` with ``verification`` in :data:`VERDICTS` (trimmed, lower case;
    empty or missing -> unverified; an unknown value -> unverified with a warning naming it)
    and ``note`` a string column (empty when missing)."""
    out = layer.copy()
    raw = (out["verification"] if "verification" in out.columns
           else pd.Series("", index=out.index))
    v = raw.fillna("").astype(str).str.strip().str.lower().replace("", "unverified")
    bad = sorted(set(v) - set(VERDICTS))
    if bad:
        warnings.warn(f"verification values {', '.join(map(repr, bad))} are not one of "
                      f"{', '.join(VERDICTS)}; taken as unverified", RsWarning, stacklevel=2)
        v = v.where(v.isin(VERDICTS), "unverified")
    out["verification"] = v
    note = out["note"] if "note" in out.columns else pd.Series("", index=out.index)
    out["note"] = note.fillna("").astype(str)
    return out


def carry_verdicts(
    new: gpd.GeoDataFrame,
    previous: gpd.GeoDataFrame | None,
    *,
    min_overlap: float = 0.5,
    measure: Measure = "iou",
    rejected: Literal["drop", "flag"] = "drop",
) -> gpd.GeoDataFrame:
    """``new`` patches with ``verification`` and ``note`` carried over from ``previous``.

    A new patch matches the previous patch it overlaps most (``measure``: ``"iou"``,
    intersection over union, or ``"overlap"``, the share of the new patch's area inside the
    previous one) when that is at least ``min_overlap``; it takes its verdict and note and
    ``previous_patch_id`` (when ``previous`` has a ``patch_id``). Unmatched patches are
    unverified with an empty note. Patches matching a rejected one are dropped
    (``rejected="drop"``) or kept with ``previously_rejected`` True (``"flag"``). The previous
    layer is reprojected to the new one's CRS when both have one and they differ; invalid
    polygons are repaired for the matching only.
    """
    if not 0 < min_overlap <= 1:
        raise SpecError(f"min_overlap must be in (0, 1], got {min_overlap}")
    if measure not in ("iou", "overlap"):
        raise SpecError(f"measure must be 'iou' or 'overlap', got {measure!r}")
    if rejected not in ("drop", "flag"):
        raise SpecError(f"rejected must be 'drop' or 'flag', got {rejected!r}")
    out = new.copy()
    n = len(out)
    verdict = np.full(n, "unverified", dtype=object)
    note = np.full(n, "", dtype=object)
    prev_id = np.full(n, None, dtype=object)
    score = np.zeros(n)
    if previous is not None and len(previous) and n:
        prev = normalise_verdicts(previous)
        if prev.crs is not None and out.crs is not None and not prev.crs.equals(out.crs):
            prev = prev.to_crs(out.crs)
        a = shapely.make_valid(np.asarray(out.geometry.values, dtype=object))
        b = shapely.make_valid(np.asarray(prev.geometry.values, dtype=object))
        tree = shapely.STRtree(b)
        i_new, i_prev = tree.query(a, predicate="intersects")
        if len(i_new):
            inter = shapely.area(shapely.intersection(a[i_new], b[i_prev]))
            if measure == "iou":
                union = shapely.area(a[i_new]) + shapely.area(b[i_prev]) - inter
                s = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
            else:
                an = shapely.area(a[i_new])
                s = np.divide(inter, an, out=np.zeros_like(inter), where=an > 0)
            pv = prev["verification"].to_numpy()
            pn = prev["note"].to_numpy()
            pid = prev["patch_id"].to_numpy() if "patch_id" in prev.columns else None
            for k in np.argsort(s, kind="stable"):  # best match written last
                if s[k] >= min_overlap and s[k] >= score[i_new[k]]:
                    j, p = i_new[k], i_prev[k]
                    score[j], verdict[j], note[j] = s[k], pv[p], pn[p]
                    prev_id[j] = pid[p] if pid is not None else None
    out["verification"] = verdict
    out["note"] = note
    out["previous_patch_id"] = prev_id
    out["match_score"] = score
    was_rejected = verdict == "rejected"
    if rejected == "drop":
        return out.loc[~was_rejected].copy()
    out["previously_rejected"] = was_rejected
    return out


def training_rows(
    layer: gpd.GeoDataFrame, *, type_column: str = "type", corrected_column: str = "type_verified"
) -> gpd.GeoDataFrame:
    """The confirmed and rejected patches of a verified layer as labelled rows: ``type`` is
    the field team's ``corrected_column`` when filled in, else ``type_column`` for a
    confirmed patch, and :data:`NOT_ACTIVITY` for a rejected one. Other columns are kept
    (feature columns, geometry) so the rows can feed ``rs train-change``."""
    v = normalise_verdicts(layer)
    rows = v.loc[v["verification"].isin(("confirmed", "rejected"))].copy()
    label = (rows[type_column].astype("string") if type_column in rows.columns
             else pd.Series(pd.NA, index=rows.index, dtype="string"))
    if corrected_column in rows.columns:
        fix = rows[corrected_column].astype("string").str.strip()
        label = fix.where(fix.notna() & (fix != ""), label)
    label = label.where(rows["verification"] != "rejected", NOT_ACTIVITY)
    missing = (rows["verification"] == "confirmed") & (label.isna() | (label.str.strip() == ""))
    if missing.any():
        warnings.warn(f"{int(missing.sum())} confirmed patch(es) without a type left out",
                      RsWarning, stacklevel=2)
    rows["type"] = label
    return rows.loc[~missing.to_numpy()]
