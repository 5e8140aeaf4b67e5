"""The product protocol: what a product module declares and what the runner gives it.

A product is one module under ``rs/products/`` that defines

* a spec model, a subclass of :class:`StepSpec` with a ``kind: Literal["..."]`` field (the
  discriminator of a pipeline step) and its own parameters; unknown keys are refused;
* ``needs(spec) -> Needs``: the sources it reads (by role: which source of the pipeline, what
  reader kind, what the reader must check in preflight) and the outputs of earlier steps it reads
  (by reference ``"step"``, ``"step@period"`` or ``"step@*"``);
* ``build(ctx) -> StepSummary``: computes the outputs for one period through ``ctx.out`` (the
  writers of ``rs/export``) and ``ctx.runtime`` (the shared Dask build context);

and one :class:`ProductDef` that bundles them, registered by one line in
``rs/products/__init__.py``. The runner knows nothing else about any product.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from rs._model import Strict

if TYPE_CHECKING:
    from rs.pipeline.context import StepContext

__all__ = [
    "GridMixin",
    "Needs",
    "OneOutput",
    "ProductDef",
    "SourceNeed",
    "StepSpec",
    "StepSummary",
]

ReaderKind = Literal["optical", "swaths", "table"]


def _one_output(ref: str) -> str:
    if ref.endswith("@*"):
        raise ValueError(f"{ref!r} names every period's output: name one ('step@<period>') or "
                         "use 'step' (the same period as this step)")
    return ref


#: a reference to one earlier step's output: ``step`` or ``step@period``, not ``step@*``
OneOutput = Annotated[str, AfterValidator(_one_output)]
STEP_ID = r"^[A-Za-z][A-Za-z0-9_-]*$"
#: longest step id, period or pipeline name: they make file names (a name is at most 255 bytes)
NAME_MAX = 64


def _step_id(v: str) -> str:
    import re

    if len(v) > NAME_MAX or not re.fullmatch(STEP_ID, v):
        raise ValueError(
            f"step id {v[:80]!r} is used in file and item names: write it with letters, digits, "
            f"'_' and '-' only, starting with a letter, at most {NAME_MAX} characters "
            "(e.g. 'composite'); no '/', '.', space or control character"
        )
    return v


class StepSpec(Strict):
    """Fields every step has; a product's spec model subclasses this and adds ``kind``."""

    kind: str
    id: Annotated[str, AfterValidator(_step_id)] = Field(
        description="name of the step, used in file and item names"
    )
    periods: list[str] | None = Field(
        default=None,
        description="names of the spec's periods this step runs for (default: every period)",
    )

    #: fields naming input files (vectors, tables): made absolute against the spec's folder,
    #: and their content's hash is part of :meth:`parameters` (an edited file rebuilds the step)
    PATH_FIELDS: ClassVar[tuple[str, ...]] = ()

    def parameters(self) -> dict[str, Any]:
        """What determines the step's content (part of its run key): every field but id/periods,
        plus the SHA-256 of each input file named by :attr:`PATH_FIELDS` (``<field>_sha256``)."""
        out = self.model_dump(mode="json", exclude={"id", "periods"})
        for name in self.PATH_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) and Path(value).is_file():
                out[f"{name}_sha256"] = hashlib.sha256(Path(value).read_bytes()).hexdigest()
        return out

    def with_paths_under(self, base: Path) -> StepSpec:
        """Copy with the :attr:`PATH_FIELDS` that are relative paths made absolute under base."""
        update = {
            name: str((base / value).resolve())
            for name in self.PATH_FIELDS
            if isinstance(value := getattr(self, name), str) and not Path(value).is_absolute()
        }
        return self.model_copy(update=update) if update else self


class GridMixin(BaseModel):
    """Output grid settings shared by raster products."""

    resolution: float = Field(default=10.0, gt=0, description="pixel size in the CRS's units")
    crs: str | None = Field(default=None, description="output CRS (default: the AOI's UTM zone)")

    @model_validator(mode="after")
    def _crs_and_units(self) -> Any:
        """A known CRS, and a resolution in its units (degrees below 1 for a geographic CRS)."""
        if self.crs is None:
            return self
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            crs = CRS.from_user_input(self.crs)
        except CRSError as e:
            raise ValueError(
                f"crs {self.crs!r} is not a known CRS (write e.g. 'EPSG:32650')"
            ) from e
        if crs.is_geographic and self.resolution >= 1:
            raise ValueError(
                f"resolution {self.resolution:g} is in metres but crs {self.crs} is in degrees: "
                "give the resolution in degrees (e.g. 0.0001) or a projected crs (or leave crs "
                "out for the AOI's UTM zone)"
            )
        return self


@dataclass(frozen=True)
class SourceNeed:
    """A source a step reads: ``source`` names one of the spec's sources (``None``: the only
    source whose reader is ``reader``); ``check`` is what preflight verifies (e.g. bands)."""

    reader: ReaderKind
    source: str | None = None
    check: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Needs:
    """Everything a step reads: sources and earlier steps' outputs, each under a role name."""

    sources: Mapping[str, SourceNeed] = field(default_factory=dict)
    upstream: Mapping[str, str] = field(default_factory=dict)


@dataclass
class StepSummary:
    """What a step tells the runner about its outputs, for the item and the run report.

    ``valid_pixels`` is the number of output pixels with a value (``None`` for non-raster
    products); 0 makes the run fail loudly. ``properties`` go into the STAC item.
    """

    layers: list[dict[str, Any]] = field(default_factory=list)
    valid_pixels: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProductDef:
    """A product as the registry knows it."""

    kind: str
    spec: type[StepSpec]
    needs: Callable[[Any], Needs]
    build: Callable[[StepContext], StepSummary]
    outputs: Callable[[Any], list[str]] = lambda spec: []  # file suffixes, for --dry-run
