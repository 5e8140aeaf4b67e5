"""Pipeline specs: YAML files analysts copy and edit, validated into typed objects.

A spec names its sources, its periods and its steps::

    name: demo
    aoi: ../aoi/demo_region.geojson
    sources:
      s2: {embedded: demo, collections: [sentinel-2-l2a]}
    periods:
      season: {start: 2022-04-01, end: 2022-09-30}
    steps:
      - {id: composite, kind: composite, bands: [red, green, blue, nir], indices: [ndvi]}
    output: ../demo-output

Every error a spec can have is found here, before any search: unknown keys (named with the
path the user wrote), impossible dates, unknown CRSs, resolutions in the wrong units, unknown
sources, periods or steps referenced by a step. Relative paths (``aoi``, ``output``, folders of
sources) are resolved against the spec file's folder, so a spec runs the same from cron.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rs._bbox import looks_like_bbox
from rs._model import Strict
from rs.errors import SpecError
from rs.pipeline.periods import (
    Period,
    PeriodRange,
    PeriodSeries,
    RelativePeriod,
    ResolvedPeriod,
    expand_period,
)
from rs.pipeline.schedule import check_cron, now_utc
from rs.pipeline.sources_spec import (
    SentinelHubSource,
    Source,
    StacSource,
    SwathSource,
    TableSource,
)
from rs.products import PRODUCTS
from rs.products.base import NAME_MAX, StepSpec

__all__ = [
    "DaskSpec",
    "PipelineSpec",
    "SentinelHubSource",
    "StacSource",
    "SwathSource",
    "TableSource",
    "load_spec",
    "parse_spec",
]

READER_OF_SOURCE = {
    "stac": "optical",
    "sentinelhub": "optical",
    "swaths": "swaths",
    "table": "table",
}
#: ``embedded`` names of the generated synthetic worlds (anything else is a folder)
EMBEDDED_DEMOS = ("demo", "coast-demo", "ecology-demo", "redline-demo")


def _period_kind(v: Any) -> str:
    def has(key: str) -> bool:
        return (key in v) if isinstance(v, dict) else hasattr(v, key)

    if has("relative"):  # resolved: as a run report's spec holds it, with its dates
        return "resolved" if has("start") else "relative"
    return "series" if has("every") else "range"


Periods = Annotated[
    Annotated[PeriodRange, Tag("range")]
    | Annotated[PeriodSeries, Tag("series")]
    | Annotated[RelativePeriod, Tag("relative")]
    | Annotated[ResolvedPeriod, Tag("resolved")],
    Discriminator(_period_kind),
]


def _step_kind(v: Any) -> str | None:
    kind = v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)
    return kind if isinstance(kind, str) and kind in PRODUCTS else None


def _step_union() -> Any:
    members = tuple(Annotated[p.spec, Tag(k)] for k, p in PRODUCTS.items())
    union = members[0]
    for m in members[1:]:
        union = union | m
    return Annotated[union, Discriminator(_step_kind)]


if TYPE_CHECKING:
    Step = StepSpec
else:
    Step = _step_union()


class ExportSpec(Strict):
    """Extra file formats: ``shapefile`` adds ``<stem>.shp.zip`` beside each vector layer's
    GeoPackage (rs.export.vectors.write_shapefile_zip)."""

    shapefile: bool = False


class DaskSpec(Strict):
    """Cluster settings: with ``--scheduler`` the local-cluster keys (workers, threads,
    processes, memory_limit) do not apply; ``connect_timeout`` and ``block_size`` do."""

    workers: int = Field(default=1, ge=1)
    threads_per_worker: int | None = Field(default=None, ge=1)
    processes: bool = Field(
        default=False,
        description="workers as separate processes (isolation) instead of threads (no copies)",
    )
    memory_limit: str = Field(
        default="auto", description="per worker: 'auto', bytes like '4GiB', or a fraction 0..1"
    )
    connect_timeout: float = Field(default=30.0, gt=0, description="seconds to reach --scheduler")
    block_size: int | None = Field(
        default=None,
        ge=16,
        description="edge of an output block in pixels (default: from the memory budget)",
    )

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, v: str) -> str:
        from dask.utils import parse_bytes

        text = str(v).strip()
        if text == "auto":
            return text
        try:
            frac = float(text)
        except ValueError:
            pass
        else:
            if 0 < frac <= 1:
                return text
            raise ValueError(f"{v!r}: a number must be a fraction of memory in (0, 1]")
        try:
            n = parse_bytes(text)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"{v!r} is not a memory size: write e.g. '4GiB', '500MB' or 'auto'"
            ) from e
        if n <= 0:
            raise ValueError(f"{v!r} must be positive")
        return text


# old top-level keys of the single-product format -> what to write instead
_OLD_KEYS = {
    "source": "'source' is now 'sources', a mapping of names to sources: "
    "sources: {s2: {embedded: demo, collections: [sentinel-2-l2a]}}",
    "time": "'time' is now 'periods', a mapping of names to date ranges: "
    "periods: {season: {start: 2022-04-01, end: 2022-09-30}}",
    "product": "'product' is now 'steps', a list of steps each with an id: "
    "steps: [{id: composite, kind: composite, bands: [red, nir], indices: [ndvi]}]",
}


class PipelineSpec(Strict):
    """A whole pipeline: AOI, named sources and periods, the steps, the output folder."""

    name: str = Field(description="the pipeline's name, used in file and item names")
    aoi: str = Field(min_length=1, description="AOI file, or a 'minx,miny,maxx,maxy' lon/lat bbox")
    sources: dict[str, Source] = Field(min_length=1)
    periods: dict[str, Periods] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    output: Path
    on_scene_error: Literal["skip", "fail"] = "skip"
    on_empty_period: Literal["fail", "skip"] = Field(
        default="fail",
        description="a step x period with no scene or no valid pixel (e.g. an all-cloud "
        "season): fail the run, or record it and go on (steps reading it use the other "
        "periods of 'step@*', or are skipped)",
    )
    dask: DaskSpec = Field(default_factory=DaskSpec)
    export: ExportSpec = Field(default_factory=ExportSpec)
    schedule: str | None = Field(
        default=None, description="cron expression (UTC) for `rs schedule`, e.g. '0 3 * * *'"
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        return None if v is None else check_cron(v)

    @field_validator("periods")
    @classmethod
    def _resolve_relative(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Relative periods become dates as of the validation context's ``today``, else the
        run's UTC day (``now_utc``: ``$RS_NOW`` or the clock)."""
        if not any(isinstance(d, RelativePeriod) for d in v.values()):
            return v
        today = (info.context or {}).get("today") or now_utc().date()
        return {n: d.resolve(today) if isinstance(d, RelativePeriod) else d for n, d in v.items()}

    @model_validator(mode="before")
    @classmethod
    def _old_format(cls, data: Any) -> Any:
        if isinstance(data, dict):
            old = [k for k in _OLD_KEYS if k in data]
            if old:
                raise ValueError(
                    "this spec uses the old single-product format; "
                    + "; ".join(_OLD_KEYS[k] for k in old)
                    + " (see pipelines/demo.yaml)"
                )
        return data

    @field_validator("name")
    @classmethod
    def _pipeline_name(cls, v: str) -> str:
        if len(v) > NAME_MAX or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
            raise ValueError(
                f"{v[:80]!r} is used in file and item names: write it with letters, digits, "
                f"'_', '-' and '.' only, starting with a letter or digit, at most {NAME_MAX} "
                "characters (e.g. 'demo'); no '/', space or control character"
            )
        return v

    @field_validator("sources", "periods")
    @classmethod
    def _names(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        what = "period" if info.field_name == "periods" else "source"
        for name in v:
            if len(name) > NAME_MAX or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
                raise ValueError(
                    f"{what} name {name[:80]!r} is used in file and item names: write it with "
                    f"letters, digits, '_' and '-' only, starting with a letter or digit, at "
                    f"most {NAME_MAX} characters (e.g. 'season'); no '/', '.', space or "
                    "control character"
                )
        return v

    @model_validator(mode="after")
    def _references(self) -> PipelineSpec:
        from rs.pipeline.graph import check_steps

        check_steps(self)
        return self

    def all_periods(self) -> dict[str, list[Period]]:
        """Each named period definition expanded into its concrete periods."""
        return {n: expand_period(n, d) for n, d in self.periods.items()}

    def resolved(self, base: Path) -> PipelineSpec:
        """Copy with relative paths made absolute against ``base`` (the spec's folder): the AOI,
        the output, source folders and files, and the input files of steps (``PATH_FIELDS``)."""
        sources: dict[str, Any] = {}
        for name, src in self.sources.items():
            if isinstance(src, StacSource) and src.embedded not in (None, *EMBEDDED_DEMOS):
                src = src.model_copy(update={"embedded": str(_abs(Path(str(src.embedded)), base))})
            elif isinstance(src, SwathSource) and src.folder is not None:
                src = src.model_copy(update={"folder": str(_abs(Path(src.folder), base))})
            elif isinstance(src, TableSource):
                src = src.model_copy(update={"path": str(_abs(Path(src.path), base))})
            sources[name] = src
        aoi = self.aoi if looks_like_bbox(self.aoi) else str(_abs(Path(self.aoi), base))
        steps = [step.with_paths_under(base) for step in self.steps]
        return self.model_copy(
            update={
                "aoi": aoi,
                "output": _abs(self.output, base),
                "sources": sources,
                "steps": steps,
            }
        )

    @property
    def aoi_label(self) -> str:
        """Short name of the AOI for messages: the file name, or the bbox as given."""
        return self.aoi if looks_like_bbox(self.aoi) else Path(self.aoi).name


def _abs(p: Path, base: Path) -> Path:
    p = p.expanduser()
    return p if p.is_absolute() else (base / p).resolve()


_UNIONS = ("sources", "periods", "steps")  # mappings / lists whose members are tagged unions


def _where(loc: tuple[Any, ...]) -> str:
    """The key path as the user wrote it: ``steps[0].statistc``. Below a member of a tagged
    union pydantic inserts the member's tag (``steps.0.composite.statistc``): it is dropped."""
    parts = list(loc)
    if len(parts) >= 3 and parts[0] in _UNIONS:
        del parts[2]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        loc = _where(tuple(err["loc"]))
        kind = err.get("input", {}).get("kind") if isinstance(err.get("input"), dict) else None
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key {loc!r}: remove it or check its spelling")
        elif err["type"] == "missing":
            lines.append(f"missing key {loc!r}")
        elif err["type"] == "union_tag_not_found":  # steps: unknown or missing kind
            lines.append(
                f"{loc}: unknown or missing step kind {kind!r}; available kinds are "
                f"{sorted(PRODUCTS)}"
            )
        elif err["type"] == "union_tag_invalid":  # sources: unknown kind
            lines.append(
                f"{loc}: unknown source kind {kind!r}; use one of {sorted(READER_OF_SOURCE)}"
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{loc or 'spec'}: {msg}")
    return "; ".join(dict.fromkeys(lines))


def parse_spec(
    data: Any, *, base: Path, origin: str = "spec", today: dt.date | None = None
) -> PipelineSpec:
    """Validate a spec mapping; relative paths resolve against ``base``, relative periods
    against ``today`` (default: the UTC day of :func:`~rs.pipeline.schedule.now_utc`)."""
    if not isinstance(data, dict):
        raise SpecError(f"{origin}: a pipeline spec must be a YAML mapping of keys to values")
    try:
        spec = PipelineSpec.model_validate(data, context={"today": today})
    except ValidationError as e:
        raise SpecError(f"{origin}: {_describe(e)}") from e
    return spec.resolved(base)


class _Loader(yaml.SafeLoader):
    """safe_load without YAML's implicit timestamps: dates stay strings until pydantic checks
    them, so '2022-13-45' is a spec error naming its key, not a traceback."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_spec(path: Path) -> PipelineSpec:
    """Read and validate a YAML spec file (safe loading, no implicit timestamps)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read pipeline spec {path}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(
            f"{path} is not a text file (not UTF-8 at byte {e.start}): give a YAML pipeline spec"
        ) from e
    if "\x00" in text:
        raise SpecError(f"{path} is a binary file, not a YAML pipeline spec")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        raise SpecError(f"{path} is not valid YAML: {e}") from e
    return parse_spec(data, base=path.resolve().parent, origin=str(path))
