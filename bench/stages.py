"""Where the time of an rs pipeline run goes, measured from outside rs.

:func:`instrument_runner` wraps (in this process only, for this benchmark) the functions the
runner calls, and accumulates wall-clock seconds per stage. The library is not modified; the
wrappers add microseconds per call. Stages overlap nothing: the runner calls them one after the
other, and the blocks' computation runs on the Dask workers while the runner waits in
``compute_wait``.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["StageClock", "instrument_runner"]


class StageClock:
    """Accumulated seconds per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0
            self.calls[name] += 1

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
    """Patch the names ``rs.pipeline.runner`` / ``writing`` / ``export`` use, to time them."""
    from rs.export.cog import CogWriter
    from rs.pipeline import runner, writing
    from rs.pipeline.summary import LayerStats

    runner.open_source = clock.context(runner.open_source, "api_start", "api_stop")
    runner.search_items = clock.function(runner.search_items, "search")
    runner.check_assets = clock.function(runner.check_assets, "preflight")
    runner.dask_client = clock.context(runner.dask_client, "cluster_start", "cluster_stop")
    runner.tiled_composite = clock.function(runner.tiled_composite, "graph_build")
    runner.write_output_item = clock.function(runner.write_output_item, "stac_item")
    runner._write_report = clock.function(runner._write_report, "stac_item")
    writing.iter_blocks = clock.iterator(writing.iter_blocks, "compute_wait")
    writing.write_quicklook = clock.function(writing.write_quicklook, "quicklooks")
    CogWriter.write_block = clock.function(CogWriter.write_block, "scratch_write")  # type: ignore[method-assign]
    CogWriter._finish = clock.function(CogWriter._finish, "cog_convert")  # type: ignore[method-assign]
    LayerStats.add = clock.function(LayerStats.add, "layer_stats")  # type: ignore[method-assign]
