"""The ``sources:`` of a pipeline spec: STAC APIs or embedded catalogs, Sentinel-5P swaths,
Sentinel Hub, tables; one discriminated union on ``kind`` (``stac`` when absent)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from rs._model import Strict

__all__ = ["SentinelHubSource", "Source", "StacSource", "SwathSource", "TableSource"]

_FILTER_OPS = {"lt", "lte", "gt", "gte", "eq", "neq", "in"}


class StacSource(Strict):
    """Optical scenes from a STAC API ``url`` or an ``embedded`` catalog served locally.

    ``embedded: demo`` serves the synthetic demo world, ``embedded: coast-demo`` the synthetic
    coast, ``embedded: ecology-demo`` the synthetic Landsat world and ``embedded: redline-demo``
    the red-line world of planted human activity (rs.testing.redline_world), each generated on
    first use;
    any other value is a folder of STAC item JSON files and/or GeoTIFFs served with
    ``rustac serve``.
    """

    kind: Literal["stac"] = "stac"
    url: str | None = None
    embedded: str | None = None
    collections: list[str] = Field(min_length=1)
    filters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    max_items: int | None = Field(default=None, gt=0)
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=4, ge=0)
    modifier: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="'module:function' called on every item found, e.g. to sign asset URLs",
    )

    @model_validator(mode="after")
    def _one_source(self) -> StacSource:
        if (self.url is None) == (self.embedded is None):
            raise ValueError(
                "give exactly one of 'url' (a STAC API) or 'embedded' (demo or a folder)"
            )
        if self.url is not None and not re.match(r"^https?://", self.url):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self

    @field_validator("filters")
    @classmethod
    def _check_filters(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for prop, ops in v.items():
            bad = set(ops) - _FILTER_OPS
            if bad:
                raise ValueError(
                    f"filter on {prop!r} uses unknown operator(s) {sorted(bad)}; "
                    f"use {sorted(_FILTER_OPS)}"
                )
        return v

    def label(self) -> str:
        return self.url or f"embedded:{self.embedded}"


class SwathSource(Strict):
    """Satellite swaths as NetCDF files: a local ``folder`` (searched recursively), a STAC
    ``url`` + ``collections`` whose items carry the NetCDF file as asset ``asset``, or
    ``embedded: no2-demo`` / ``ch4-demo`` (the synthetic Sentinel-5P NO2 month / methane
    super-emitters, generated on first use)."""

    kind: Literal["swaths"]
    folder: str | None = None
    embedded: Literal["no2-demo", "ch4-demo"] | None = None
    url: str | None = None
    collections: list[str] = Field(default_factory=list)
    asset: str = "netcdf"
    pattern: str = Field(default="*.nc", description="file-name glob inside folder")

    @model_validator(mode="after")
    def _one_source(self) -> SwathSource:
        if sum(v is not None for v in (self.url, self.folder, self.embedded)) != 1:
            raise ValueError(
                "give exactly one of 'folder' (NetCDF files), 'url' (a STAC API) or 'embedded'"
            )
        if self.url is not None and not self.collections:
            raise ValueError("a STAC swath source needs 'collections'")
        return self

    def label(self) -> str:
        return self.url or (f"folder:{self.folder}" if self.folder else f"embedded:{self.embedded}")


class SentinelHubSource(Strict):
    """Sentinel-2 L2A scenes from Sentinel Hub (Catalog API search, Process API pixels), cached
    as local GeoTIFFs (rs.sources.sentinelhub). Credentials never go in a spec: they come from
    ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET`` or the sentinelhub config file (``config_profile``).
    """

    kind: Literal["sentinelhub"]
    collection: Literal["sentinel-2-l2a"] = "sentinel-2-l2a"
    base_url: str | None = Field(default=None, pattern=r"^https://", description="else config")
    token_url: str | None = Field(default=None, pattern=r"^https://", description="else config")
    config_profile: str | None = Field(default=None, min_length=1)
    max_cloud_cover: float | None = Field(default=None, ge=0, le=100)
    tile_size: int = Field(default=1000, ge=16, le=2496, description="10 m pixels per request")
    retries: int = Field(default=4, ge=0)
    retry_wait: float = Field(default=5.0, gt=0, description="seconds before the first retry")
    timeout: float = Field(default=120.0, gt=0)
    max_threads: int = Field(default=4, ge=1)

    def label(self) -> str:
        return f"sentinelhub:{self.collection}@{self.base_url or 'config'}"


class TableSource(Strict):
    """A table (CSV or Parquet file), e.g. ground-station observations."""

    kind: Literal["table"]
    path: str = Field(min_length=1)

    def label(self) -> str:
        return f"table:{self.path}"


def _source_kind(v: Any) -> str:
    if isinstance(v, dict):
        return str(v.get("kind", "stac"))
    return str(getattr(v, "kind", "stac"))


Source = Annotated[
    Annotated[StacSource, Tag("stac")]
    | Annotated[SentinelHubSource, Tag("sentinelhub")]
    | Annotated[SwathSource, Tag("swaths")]
    | Annotated[TableSource, Tag("table")],
    Discriminator(_source_kind),
]
