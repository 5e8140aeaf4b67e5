"""The build context: what the runner gives a product's ``build``.

:class:`Runtime` is shared by every step of a run. It owns the Dask client, the chunking
rule, sending shared objects to workers once, bounded in-flight block work with progress, the
GDAL settings captured on the client, and the record of which scene each block used or skipped.

:class:`StepContext` is one step x period: its spec, period, AOI, output grid CRS, the inputs
found for it (after preflight), the outputs of the steps it reads, and :class:`Outputs`, the
staging folder its files are written into before the runner publishes them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dask
import pystac

from rs.export.stac_items import OutputAsset
from rs.load import SkippedScene, reduction_chunks
from rs.pipeline.blocks import Block, BlockTask, iter_blocks, iter_results
from rs.pipeline.planning import task_key
from rs.pipeline.progress import QuietReporter, Reporter

if TYPE_CHECKING:
    from distributed import Client

    from rs.aoi import Aoi
    from rs.load.readers import InputRef
    from rs.pipeline.graph import StepRun
    from rs.pipeline.periods import Period

__all__ = [
    "GDAL_PREFIXES",
    "Outputs",
    "Runtime",
    "SceneUse",
    "StepContext",
    "Upstream",
    "capture_gdal_env",
]

#: Environment variables that configure GDAL reads and their credentials: captured on the client
#: and applied around reads on every worker, local or remote.
GDAL_PREFIXES = ("GDAL_", "CPL_", "VSI_", "AWS_", "GS_", "AZURE_", "OSS_", "SWIFT_", "GOOGLE_")


#: Process-wide GDAL settings read from the environment when GDAL starts, not options of a read:
#: ``rasterio.Env`` refuses GDAL_CACHEMAX as text ("an integer is required"), which crashed
#: every block of a run started with GDAL_CACHEMAX set
PROCESS_SETTINGS = frozenset({"GDAL_CACHEMAX"})


def capture_gdal_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """GDAL options and object-store credentials set in this process's environment (without
    :data:`PROCESS_SETTINGS`, which each worker process takes from its own environment)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in sorted(env.items())
            if k.startswith(GDAL_PREFIXES) and k not in PROCESS_SETTINGS}


@dataclass
class SceneUse:
    """Per scene: the blocks that used it and the blocks that had to leave it out."""

    used: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, SkippedScene] = field(default_factory=dict)

    def record(self, scenes: Iterable[str], left_out: Sequence[SkippedScene]) -> None:
        out = {s.item_id for s in left_out}
        for s in left_out:
            self.reasons.setdefault(s.item_id, s)
            self.skipped[s.item_id] = self.skipped.get(s.item_id, 0) + 1
        for sid in scenes:
            if sid not in out:
                self.used[sid] = self.used.get(sid, 0) + 1

    def fully_skipped(self) -> list[SkippedScene]:
        """Scenes no block could use."""
        return [r for sid, r in self.reasons.items() if self.used.get(sid, 0) == 0]

    def rows(self) -> list[dict[str, Any]]:
        """Report rows for every scene some block left out: skipped, or partly used."""
        out = []
        for sid, r in self.reasons.items():
            used = self.used.get(sid, 0)
            out.append(
                {
                    "scene": sid,
                    "asset": r.asset,
                    "reason": r.reason,
                    "status": "partly used" if used else "skipped",
                    "blocks_used": used,
                    "blocks_skipped": self.skipped[sid],
                }
            )
        return out


@dataclass
class Runtime:
    """Shared by every step of one run (see the module docstring)."""

    client: Client
    reporter: Reporter = field(default_factory=QuietReporter)
    on_error: Literal["skip", "fail"] = "skip"
    block_size: int | None = None
    gdal_env: dict[str, str] = field(default_factory=capture_gdal_env)

    def block_shape(self, n_time: int, itemsize: int) -> tuple[int, int]:
        """The one chunking rule for output blocks: the spec's ``dask.block_size`` if set, else
        the largest block whose every date of every layer fits the reduction budget."""
        if self.block_size is not None:
            return self.block_size, self.block_size
        c = reduction_chunks(max(1, n_time), itemsize=itemsize)
        return c["y"], c["x"]

    def shared(self, obj: Any, name: str, token: Any) -> Any:
        """``obj`` placed on the cluster once, as a graph node that block tasks refer to by key.

        Block tasks are submitted a few at a time, and a client sends a task's whole graph with
        each submission: a plain shared node would travel once per block. Persisting it first
        sends it once; later graphs only name its key. ``token`` (ids, hrefs) makes the key
        deterministic.
        """
        node = dask.delayed(obj, name=task_key(name, token), traverse=False)
        return self.client.persist(node)

    def compute_each(self, tasks: Sequence[Any], description: str) -> Iterator[tuple[int, Any]]:
        """Compute lazy ``tasks`` (one per scene, orbit, ...) a few at a time, showing progress;
        yields ``(index, result)`` in completion order (:func:`iter_results`)."""
        advance = self.reporter.bar(description, len(tasks))
        yield from iter_results(self.client, tasks, on_done=advance)

    def part_map(self, description: str) -> PartMap:
        """A :class:`PartMap` on this run's cluster (e.g. for ``rs.ecology.zonal``'s
        ``parallel``): its tasks read with the run's GDAL settings and show progress."""
        return PartMap(self, description)

    def compute_blocks(
        self, tasks: Sequence[BlockTask], description: str, use: SceneUse | None = None
    ) -> Iterator[Block]:
        """Compute ``tasks`` a few at a time (:func:`iter_blocks`), showing progress, and
        record which scenes each block used or left out in ``use``."""
        advance = self.reporter.bar(description, len(tasks))
        for block in iter_blocks(self.client, tasks, on_done=advance):
            if use is not None:
                use.record(block.scenes, block.skipped)
            yield block


def _with_env(env: Mapping[str, str], fn: Callable[..., Any], *args: Any) -> Any:
    import rasterio

    with rasterio.Env(**env):
        return fn(*args)


@dataclass
class PartMap:
    """``fn`` over argument tuples as Dask tasks of ``runtime`` (:meth:`Runtime.compute_each`:
    a few in flight, progress shown), each under the run's GDAL settings; results in the
    order of the arguments. ``slots``: the cluster's threads."""

    runtime: Runtime
    description: str

    @property
    def slots(self) -> int:
        return max(1, sum(self.runtime.client.nthreads().values()))

    def __call__(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]:
        env = self.runtime.gdal_env
        name = getattr(fn, "__name__", "part")  # keys read as the function's, not the wrapper's
        tasks = [dask.delayed(_with_env, pure=False)(env, fn, *a,
                                                     dask_key_name=f"{name}-{uuid.uuid4().hex}")
                 for a in args]
        out: list[Any] = [None] * len(tasks)
        for i, result in self.runtime.compute_each(tasks, self.description):
            out[i] = result
        return out


@dataclass
class Upstream:
    """The published output of an earlier step x period, read back through its files."""

    step: str
    period: Period
    item: dict[str, Any]
    item_path: Path
    run_key: str

    def asset(self, key: str) -> Path:
        """Absolute path of asset ``key`` of the upstream item."""
        from rs.pipeline.ledger import asset_paths

        paths = asset_paths(self.item_path, self.item)
        if key not in paths:
            from rs.errors import SpecError

            raise SpecError(
                f"step {self.step!r} has no output {key!r}: choose one of {sorted(paths)}"
            )
        return paths[key]


@dataclass
class Outputs:
    """The files of one step x period, written into a staging folder first."""

    staging: Path
    stem: str
    assets: list[OutputAsset] = field(default_factory=list)

    def path(self, key: str, ext: str) -> Path:
        """Staging path of output ``key``: ``<pipeline>_<step>_<period>_<key>.<ext>``; a key
        that could leave the folder (``/``, ``..``, a control character) is refused."""
        import re

        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", f"{key}.{ext}") or ".." in key:
            from rs.errors import OutputError

            raise OutputError(f"output key {key[:80]!r} cannot name a file: a product built it "
                              "from data; keys use letters, digits, '_', '-' and '.' only")
        return self.staging / f"{self.stem}_{key}.{ext}"

    def add(self, *assets: OutputAsset) -> None:
        self.assets.extend(assets)


@dataclass
class StepContext:
    """One step x period as its product's ``build`` sees it."""

    pipeline: str
    run: StepRun
    aoi: Aoi
    crs: str | None  # the output grid's CRS for raster steps, else None
    inputs: dict[str, list[InputRef]]
    upstream: dict[str, list[Upstream]]
    runtime: Runtime
    out: Outputs
    scene_use: SceneUse = field(default_factory=SceneUse)

    @property
    def spec(self) -> Any:
        return self.run.step

    @property
    def period(self) -> Period:
        return self.run.period

    def items(self, role: str) -> list[pystac.Item]:
        """The STAC items of the inputs of ``role`` (optical scenes)."""
        return [r.item for r in self.inputs.get(role, []) if r.item is not None]

    def tags(self) -> dict[str, str]:
        """Product metadata for the files of this step (GeoTIFF tags)."""
        from rs import __version__

        return {
            "RS_PIPELINE": self.pipeline,
            "RS_STEP": self.run.step.id,
            "RS_PRODUCT": self.run.kind,
            "RS_PERIOD": self.period.name,
            "RS_START": self.period.start.isoformat(),
            "RS_END": self.period.end.isoformat(),
            "RS_VERSION": __version__,
            "RS_INPUTS": ",".join(r.id for refs in self.inputs.values() for r in refs),
        }
