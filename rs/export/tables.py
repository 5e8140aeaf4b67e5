"""Tables (zonal statistics, transect statistics, station matchups) as CSV and Parquet.

Both files are written atomically and described by STAC assets with the table extension
(``table:columns``, ``table:row_count``). Column types are the Arrow types the Parquet file
stores, so the CSV and Parquet assets describe the same columns the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from rs.errors import OutputError
from rs.export._atomic import atomic_path, check_writable
from rs.export.stac_items import OutputAsset, file_asset

__all__ = ["CSV_MEDIA_TYPE", "PARQUET_MEDIA_TYPE", "table_columns", "write_table"]

CSV_MEDIA_TYPE = "text/csv"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
_FORMATS = {"csv": ("csv", CSV_MEDIA_TYPE), "parquet": ("parquet", PARQUET_MEDIA_TYPE)}


def table_columns(
    schema: pa.Schema, descriptions: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """``table:columns`` for an Arrow schema: name, Arrow type and description when given."""
    descriptions = descriptions or {}
    unknown = sorted(set(descriptions) - set(schema.names))
    if unknown:
        raise ValueError(f"descriptions name columns the table does not have: {', '.join(unknown)}")
    cols = []
    for f in schema:
        col: dict[str, Any] = {"name": f.name, "type": str(f.type)}
        if f.name in descriptions:
            col["description"] = descriptions[f.name]
        cols.append(col)
    return cols


def write_table(
    df: pd.DataFrame,
    folder: Path,
    stem: str,
    *,
    key: str,
    title: str | None = None,
    formats: Sequence[str] = ("csv", "parquet"),
    descriptions: Mapping[str, str] | None = None,
    roles: Sequence[str] = ("data",),
) -> list[OutputAsset]:
    """Write ``df`` as ``<folder>/<stem>.csv`` (UTF-8, no index) and/or ``<stem>.parquet``.

    A named index (zone id, station id) is written as ordinary columns first; an unnamed one is
    dropped. Returns one asset per format, keyed ``<key>_<format>`` (``stats_csv``,
    ``stats_parquet``), with ``table:columns`` (name, Arrow type, the ``descriptions`` given)
    and ``table:row_count``.
    """
    bad = [f for f in formats if f not in _FORMATS]
    if bad or not formats:
        raise ValueError(f"table formats must be among {sorted(_FORMATS)}, got {list(formats)}")
    if any(n is not None for n in df.index.names):
        df = df.reset_index()  # a named index is data (zone id, station id, ...)
    df = df.rename(columns=str)
    folder = check_writable(Path(folder))
    arrow_schema = pa.Schema.from_pandas(df, preserve_index=False)
    extra_table = {
        "table:columns": table_columns(arrow_schema, descriptions),
        "table:row_count": len(df),
    }
    assets = []
    for fmt in dict.fromkeys(formats):
        ext, media_type = _FORMATS[fmt]
        path = folder / f"{stem}.{ext}"
        try:
            with atomic_path(path) as tmp:
                if fmt == "csv":
                    df.to_csv(tmp, index=False, encoding="utf-8")
                else:
                    df.to_parquet(tmp, index=False, engine="pyarrow")
        except OSError as e:
            raise OutputError(f"cannot write table {path}: {e}") from e
        assets.append(
            file_asset(
                f"{key}_{fmt}",
                path,
                media_type,
                roles=roles,
                title=f"{title} ({fmt.upper()})" if title else None,
                extra=extra_table,
            )
        )
    return assets
