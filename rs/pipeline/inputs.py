"""The spec's named sources, opened once per run: find each period's inputs and preflight them.

Each source kind has a reader (``rs.load.readers``): optical STAC scenes, NetCDF swaths (a local
folder or a STAC collection), tables. Searches are cached per source and period, and an embedded
STAC API is started on first use and stopped with the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from shapely.geometry import shape

from rs.errors import NoScenesError
from rs.load import SkippedScene
from rs.pipeline.periods import Period
from rs.pipeline.progress import Reporter
from rs.pipeline.source import open_source, resolve_modifier
from rs.pipeline.spec import PipelineSpec, StacSource, SwathSource, TableSource

if TYPE_CHECKING:
    import pystac
    from shapely.geometry.base import BaseGeometry

    from rs.load.readers import InputRef

__all__ = ["SourceSet"]


def _ref_of(item: pystac.Item, href: str | None = None) -> InputRef:
    from rs.load.readers import InputRef

    geom = shape(item.geometry) if item.geometry else None
    return InputRef(
        id=item.id,
        href=href or (item.get_self_href() or item.id),
        datetime=item.datetime,
        geometry=geom,
        item=item,
    )


class SourceSet:
    """The sources of one run (see the module docstring); use inside ``with``."""

    def __init__(
        self, spec: PipelineSpec, aoi: BaseGeometry, reporter: Reporter, *, offline: bool = False
    ) -> None:
        self.spec = spec
        self.aoi = aoi
        self.reporter = reporter
        self._stack = contextlib.ExitStack()
        self._urls: dict[str, str] = {}
        self._found: dict[tuple[str, Period], list[InputRef]] = {}
        self.search_s = 0.0

    def __enter__(self) -> SourceSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _url(self, name: str, src: StacSource) -> str:
        if name not in self._urls:
            url = self._stack.enter_context(open_source(src, self.reporter))
            with contextlib.suppress(ImportError):
                from rs.sources.stac import check_collections

                check_collections(
                    url,
                    src.collections,
                    timeout=src.timeout,
                    retries=src.retries,
                    modifier=resolve_modifier(src.modifier),
                )
            self._urls[name] = url
        return self._urls[name]

    def find(self, name: str, period: Period) -> list[InputRef]:
        """Inputs of source ``name`` within ``period`` (cached)."""
        key = (name, period)
        if key not in self._found:
            import time

            t0 = time.perf_counter()
            self._found[key] = self._search(name, period)
            self.search_s += time.perf_counter() - t0
        return self._found[key]

    def _search(self, name: str, period: Period) -> list[InputRef]:
        src = self.spec.sources[name]
        if isinstance(src, StacSource):
            from rs.sources.stac import search_items

            url = self._url(name, src)
            self.reporter.stage(f"searching {', '.join(src.collections)} for {period.label}")
            items = search_items(
                url,
                src.collections,
                intersects=self.aoi,
                datetime=period.as_stac(),
                filters=src.filters,
                max_items=src.max_items,
                timeout=src.timeout,
                retries=src.retries,
                modifier=resolve_modifier(src.modifier),
            )
            return [_ref_of(i) for i in items]
        if isinstance(src, SwathSource):
            from rs.load.readers import SwathReader

            if src.folder is not None:
                return list(SwathReader().find(src.folder, period.start, period.end))
            from rs.sources.stac import search_items

            url = src.url or ""
            items = search_items(
                url, src.collections, intersects=self.aoi, datetime=period.as_stac()
            )
            refs = []
            for it in items:
                asset = it.assets.get(src.asset)
                if asset is None:
                    continue
                refs.append(_ref_of(it, asset.href))
            return refs
        if isinstance(src, TableSource):
            from rs.load.readers import TableReader

            return list(TableReader().find(src.path))
        raise TypeError(f"unknown source type {type(src).__name__}")  # pragma: no cover

    def preflight(
        self,
        name: str,
        refs: list[InputRef],
        check: Mapping[str, Any],
        on_error: Literal["skip", "fail"],
    ) -> tuple[list[InputRef], list[SkippedScene]]:
        """Inputs whose files open (headers only) and those left out, with reasons."""
        from rs.load.readers import OpticalReader, SwathReader, TableReader

        src = self.spec.sources[name]
        reader: Any = (
            OpticalReader()
            if isinstance(src, StacSource)
            else SwathReader()
            if isinstance(src, SwathSource)
            else TableReader()
        )
        return reader.preflight(refs, on_error=on_error, needs=dict(check))

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
