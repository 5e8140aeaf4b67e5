"""The spec's named sources, opened once per run: find each period's inputs and preflight them.

Each source kind has a reader (``rs.load.readers``): optical STAC scenes, NetCDF swaths (a local
folder or a STAC collection), tables. Searches are cached per source and period, and an embedded
STAC API is started on first use and stopped with the run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from rs.errors import AssetReadError, NoScenesError
from rs.load import SkippedScene
from rs.load.readers import InputRef, OpticalReader, SwathReader, TableReader
from rs.pipeline.periods import Period
from rs.pipeline.progress import Reporter
from rs.pipeline.source import open_source, resolve_modifier, sentinelhub_items
from rs.pipeline.spec import (
    PipelineSpec,
    SentinelHubSource,
    StacSource,
    SwathSource,
    TableSource,
)

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = ["SourceSet"]

#: the reader of each source kind
_READERS: dict[str, Any] = {
    "stac": OpticalReader,
    "sentinelhub": OpticalReader,
    "swaths": SwathReader,
    "table": TableReader,
}


class SourceSet:
    """The sources of one run (see the module docstring); use inside ``with``."""

    def __init__(self, spec: PipelineSpec, aoi: BaseGeometry, reporter: Reporter) -> None:
        self.spec = spec
        self.aoi = aoi
        self.reporter = reporter
        self._stack = contextlib.ExitStack()
        self._urls: dict[str, str] = {}
        self._found: dict[tuple[str, Period], list[InputRef]] = {}
        self._unusable: dict[str, SkippedScene] = {}  # found, but unusable as found
        self.search_s = 0.0

    def __enter__(self) -> SourceSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _url(self, name: str, src: StacSource) -> str:
        """The STAC API of ``src``: started once when embedded."""
        if name not in self._urls:
            self._urls[name] = self._stack.enter_context(open_source(src, self.reporter))
        return self._urls[name]

    def find(self, name: str, period: Period) -> list[InputRef]:
        """Inputs of source ``name`` within ``period`` (cached; ``search_s`` times searches
        only, not starting an embedded API)."""
        key = (name, period)
        if key not in self._found:
            src = self.spec.sources[name]
            if isinstance(src, StacSource):
                self._url(name, src)
            t0 = time.perf_counter()
            self._found[key] = self._search(name, period)
            self.search_s += time.perf_counter() - t0
        return self._found[key]

    def _stac_items(
        self, url: str, collections: list[str], period: Period, src: StacSource | None = None
    ) -> list[Any]:
        from rs.sources.stac import search_items

        self.reporter.stage(f"searching {', '.join(collections)} for {period.label}")
        if src is None:
            return search_items(url, collections, intersects=self.aoi, datetime=period.as_stac())
        return search_items(
            url,
            collections,
            intersects=self.aoi,
            datetime=period.as_stac(),
            filters=src.filters,
            max_items=src.max_items,
            timeout=src.timeout,
            retries=src.retries,
            modifier=resolve_modifier(src.modifier),
        )

    def _search(self, name: str, period: Period) -> list[InputRef]:
        src = self.spec.sources[name]
        if isinstance(src, StacSource):
            items = self._stac_items(self._url(name, src), src.collections, period, src)
            return [InputRef.from_item(i) for i in items]
        if isinstance(src, SentinelHubSource):
            found = sentinelhub_items(src, self.aoi, period.start, period.end, self.reporter)
            return [InputRef.from_item(i) for i in found]
        if isinstance(src, SwathSource):
            if src.embedded is not None:
                from rs.pipeline.source import ch4_demo_root, no2_demo_folder

                no2 = src.embedded == "no2-demo"
                folder = no2_demo_folder() if no2 else ch4_demo_root() / "s5p"
                return SwathReader().find(folder, period.start, period.end)
            if src.folder is not None:
                return SwathReader().find(src.folder, period.start, period.end, pattern=src.pattern)
            refs = []
            for it in self._stac_items(str(src.url), src.collections, period):
                asset = it.assets.get(src.asset)
                if asset is None:
                    self._unusable[it.id] = SkippedScene(
                        it.id, src.asset, f"item has no asset {src.asset!r} (the source's asset)"
                    )
                refs.append(InputRef.from_item(it, asset.href if asset else ""))
            return refs
        if isinstance(src, TableSource):
            return TableReader().find(src.path)
        raise TypeError(f"unknown source type {type(src).__name__}")  # pragma: no cover

    def preflight(
        self,
        name: str,
        refs: list[InputRef],
        check: Mapping[str, Any],
        on_error: Literal["skip", "fail"],
    ) -> tuple[list[InputRef], list[SkippedScene]]:
        """Inputs whose files open (headers only) and those left out, with reasons."""
        known = [self._unusable[r.id] for r in refs if r.id in self._unusable]
        if known and on_error == "fail":
            raise AssetReadError(f"item {known[0].item_id!r}: {known[0].reason}")
        rest = [r for r in refs if r.id not in self._unusable]
        reader = _READERS[self.spec.sources[name].kind]()
        usable, skipped = reader.preflight(rest, on_error=on_error, needs=dict(check))
        return usable, [*known, *skipped]

    def no_inputs(self, name: str, period: Period, step: str) -> NoScenesError:
        src = self.spec.sources[name]
        what = (
            f"in {', '.join(src.collections)}"
            if isinstance(src, StacSource)
            else f"in {src.label()}"
        )
        return NoScenesError(
            f"no scenes found for {self.spec.aoi_label} {what} between {period.start} and "
            f"{period.end} (step {step!r}, period {period.name}): widen the dates, relax the "
            "filters or check that the AOI lies inside the source's coverage"
        )
