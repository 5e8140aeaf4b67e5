"""Where the time of an rs pipeline run goes, measured from outside rs.

:func:`instrument_runner` wraps (in this process only, for this benchmark) the functions the
runner and the composite product call, and accumulates wall-clock seconds per stage. The library
is not modified; the wrappers add microseconds per call.

Stages may nest (the product's ``build`` calls the block computation, the writers and the
quicklooks; a source's first search starts the embedded STAC API): each stage is charged only
its *exclusive* time, the time not spent in a stage nested inside it, so no second is counted
twice and the stages plus ``other`` add up to the work time. The blocks' computation runs on the
Dask workers while the product waits in ``compute_wait``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["StageClock", "instrument_runner"]


class StageClock:
    """Accumulated exclusive seconds per stage name (per thread nesting)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()

    def _stack(self) -> list[float]:
        """Per thread: for each open stage, the seconds its nested stages took so far."""
        stack: list[float] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        stack = self._stack()
        stack.append(0.0)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t0
            nested = stack.pop()
            self.seconds[name] += elapsed - nested
            self.calls[name] += 1
            if stack:
                stack[-1] += elapsed

    def function(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return fn(*args, **kwargs)

        return timed

    def context(self, cm_factory: Callable[..., Any], enter: str, leave: str) -> Callable[..., Any]:
        """Wrap a context-manager factory: time its ``__enter__`` and ``__exit__`` separately."""

        @contextlib.contextmanager
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            cm = cm_factory(*args, **kwargs)
            with self.stage(enter):
                value = cm.__enter__()
            try:
                yield value
            except BaseException as e:
                with self.stage(leave):
                    if not cm.__exit__(type(e), e, e.__traceback__):
                        raise
            else:
                with self.stage(leave):
                    cm.__exit__(None, None, None)

        return timed

    def iterator(self, fn: Callable[..., Iterator[Any]], name: str) -> Callable[..., Any]:
        """Wrap a generator function: time spent inside each ``next()``."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = fn(*args, **kwargs)
            while True:
                with self.stage(name):
                    try:
                        value = next(it)
                    except StopIteration:
                        return
                yield value

        return timed


def instrument_runner(clock: StageClock) -> None:
    """Patch the names the runtime (``rs.pipeline.runner`` / ``inputs`` / ``cluster`` /
    ``context``) and the composite product (``rs.products.composite``) look up, to time them.

    Names imported inside a function body (``from rs.x import f`` at call time) are patched on
    their home module; names bound at import time on the module that uses them.
    """
    import rs.export.quicklook
    import rs.pipeline.cluster
    import rs.pipeline.inputs
    import rs.pipeline.planning
    import rs.sources.stac
    from rs.export.cog import CogWriter
    from rs.pipeline import runner
    from rs.pipeline.context import Runtime
    from rs.pipeline.inputs import SourceSet
    from rs.pipeline.summary import LayerStats
    from rs.products import PRODUCTS

    c = clock
    # sources: the embedded STAC API lives from a source's first search to the end of the run
    rs.pipeline.inputs.open_source = c.context(
        rs.pipeline.inputs.open_source, "api_start", "api_stop"
    )
    # search_items checks the collections itself (once per search), by this module-level name
    rs.sources.stac._check_collections = c.function(
        rs.sources.stac._check_collections, "collection_check"
    )
    SourceSet.find = c.function(SourceSet.find, "search")  # type: ignore[method-assign]
    SourceSet.preflight = c.function(SourceSet.preflight, "preflight")  # type: ignore[method-assign]
    # the local Dask cluster, started on the first step that builds, closed with the run
    timed_client = c.context(rs.pipeline.cluster.dask_client, "cluster_start", "cluster_stop")
    rs.pipeline.cluster.dask_client = timed_client
    if hasattr(runner, "dask_client"):  # bound at import time by the runner
        runner.dask_client = timed_client
    # the composite product: its build minus every stage below is the block plan, the block
    # task graph, the output grid and the asset metadata ("graph_build")
    product = PRODUCTS["composite"]
    PRODUCTS["composite"] = dataclasses.replace(  # the runner looks products up here
        product, build=c.function(product.build, "graph_build")
    )
    rs.pipeline.planning.footprints_of = c.function(
        rs.pipeline.planning.footprints_of, "graph_build"
    )
    rs.pipeline.planning.plan_blocks = c.function(rs.pipeline.planning.plan_blocks, "graph_build")
    Runtime.compute_blocks = c.iterator(  # type: ignore[method-assign]
        Runtime.compute_blocks, "compute_wait"
    )
    LayerStats.add = c.function(LayerStats.add, "layer_stats")  # type: ignore[method-assign]
    CogWriter.__enter__ = c.function(CogWriter.__enter__, "scratch_open")  # type: ignore[method-assign]
    CogWriter.write_block = c.function(CogWriter.write_block, "scratch_write")  # type: ignore[method-assign]
    # leaving a writer closes (flushes) the scratch file, then converts it (cog_convert, nested)
    CogWriter.__exit__ = c.function(CogWriter.__exit__, "scratch_write")  # type: ignore[method-assign]
    CogWriter._finish = c.function(CogWriter._finish, "cog_convert")  # type: ignore[method-assign]
    rs.export.quicklook.write_quicklook = c.function(
        rs.export.quicklook.write_quicklook, "quicklooks"
    )
    # publishing
    runner.output_item = c.function(runner.output_item, "stac_item")
    runner.write_output_item = c.function(runner.write_output_item, "stac_item")
    runner.write_report = c.function(runner.write_report, "run_report")
