"""Pipeline specs: YAML files analysts copy and edit, validated into typed objects.

Relative paths in a spec (``aoi``, ``output``, ``source.embedded``) are resolved against the
folder of the spec file, so a spec runs the same from cron as from an analyst's shell.
Unknown keys are refused with the key named.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rs.errors import SpecError

__all__ = [
    "CompositeProduct",
    "DaskSpec",
    "PipelineSpec",
    "SourceSpec",
    "TimeRange",
    "load_spec",
    "parse_spec",
]

_NUM = r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
_BBOX = re.compile(rf"^{_NUM},{_NUM},{_NUM},{_NUM}$")
MaskClass = Literal["cloud", "shadow", "snow", "cirrus", "invalid"]
_DEFAULT_MASK: tuple[MaskClass, ...] = ("cloud", "cirrus", "shadow", "snow")
_FILTER_OPS = {"lt", "lte", "gt", "gte", "eq", "neq", "in"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    """Where scenes come from: a STAC API ``url`` or an ``embedded`` catalog served locally.

    ``embedded: demo`` serves the synthetic demo world (generated on first use); any other
    value is a folder of STAC item JSON files and/or GeoTIFFs served with ``rustac serve``.
    """

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
    def _one_source(self) -> SourceSpec:
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


class TimeRange(_Strict):
    """Inclusive date range of the scenes to use."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end < self.start:
            raise ValueError(f"time.end ({self.end}) is before time.start ({self.start})")
        return self

    def as_stac(self) -> str:
        """The range as a STAC ``datetime`` interval covering both days entirely."""
        return f"{self.start.isoformat()}T00:00:00Z/{self.end.isoformat()}T23:59:59Z"


class CompositeProduct(_Strict):
    """Cloud-masked temporal composite of ``bands`` plus spectral ``indices`` of it."""

    kind: Literal["composite"]
    bands: list[str] = Field(default_factory=lambda: ["red", "green", "blue", "nir"], min_length=1)
    statistic: Literal["median", "mean", "min", "max"] = "median"
    indices: list[str] = Field(default_factory=lambda: ["ndvi"])
    resolution: float = Field(default=10.0, gt=0)
    crs: str | None = None
    mask: list[MaskClass] = Field(default_factory=lambda: list(_DEFAULT_MASK))
    quicklook: bool = True

    @field_validator("bands")
    @classmethod
    def _known_bands(cls, v: list[str]) -> list[str]:
        from rs.load.bands import COMMON_BANDS

        bad = [b for b in v if b not in COMMON_BANDS]
        if bad:
            raise ValueError(f"unknown band(s) {bad}: use common names {list(COMMON_BANDS)}")
        return v

    @field_validator("indices")
    @classmethod
    def _known_indices(cls, v: list[str]) -> list[str]:
        from rs.indices import INDICES

        bad = [i for i in v if i not in INDICES]
        if bad:
            raise ValueError(f"unknown index/indices {bad}: available are {sorted(INDICES)}")
        return v


class DaskSpec(_Strict):
    """Local cluster settings; with ``--scheduler`` only ``connect_timeout`` applies."""

    workers: int = Field(default=1, ge=1)
    threads_per_worker: int | None = Field(default=None, ge=1)
    processes: bool = Field(
        default=False,
        description="workers as separate processes (isolation) instead of threads (no copies)",
    )
    memory_limit: str = "auto"
    connect_timeout: float = Field(default=30.0, gt=0, description="seconds to reach --scheduler")


Product = Annotated[CompositeProduct, Field(discriminator="kind")]


class PipelineSpec(_Strict):
    """A whole pipeline run: source, AOI, time range, product, output folder."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    source: SourceSpec
    aoi: str = Field(min_length=1, description="AOI file, or a 'minx,miny,maxx,maxy' lon/lat bbox")
    time: TimeRange
    product: Product
    output: Path
    on_scene_error: Literal["skip", "fail"] = "skip"
    dask: DaskSpec = Field(default_factory=DaskSpec)

    def resolved(self, base: Path) -> PipelineSpec:
        """Copy with relative paths made absolute against ``base`` (the spec's folder)."""
        src = self.source
        if src.embedded is not None and src.embedded != "demo":
            src = src.model_copy(update={"embedded": str(_abs(Path(src.embedded), base))})
        aoi = self.aoi if _BBOX.match(self.aoi) else str(_abs(Path(self.aoi), base))
        return self.model_copy(
            update={"aoi": aoi, "output": _abs(self.output, base), "source": src}
        )

    @property
    def aoi_label(self) -> str:
        """Short name of the AOI for messages: the file name, or the bbox as given."""
        return self.aoi if _BBOX.match(self.aoi) else Path(self.aoi).name


def _abs(p: Path, base: Path) -> Path:
    p = p.expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _describe(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key {loc!r}: remove it or check its spelling")
        elif err["type"] == "missing":
            lines.append(f"missing key {loc!r}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{loc or 'spec'}: {msg}")
    return "; ".join(lines)


def parse_spec(data: Any, *, base: Path, origin: str = "spec") -> PipelineSpec:
    """Validate a spec mapping; relative paths resolve against ``base``."""
    if not isinstance(data, dict):
        raise SpecError(f"{origin}: a pipeline spec must be a YAML mapping of keys to values")
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(f"{origin}: {_describe(e)}") from e
    return spec.resolved(base)


def load_spec(path: Path) -> PipelineSpec:
    """Read and validate a YAML spec file (``yaml.safe_load``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"cannot read pipeline spec {path}: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError(f"{path} is not valid YAML: {e}") from e
    return parse_spec(data, base=path.resolve().parent, origin=str(path))
