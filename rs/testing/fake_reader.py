"""A reader without I/O, for tests of planning and of the runner's partial-failure handling."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rs.load._preflight import OnError, SkippedScene, raise_or_report
from rs.load.readers import InputRef

__all__ = ["FakeReader"]


@dataclass
class FakeReader:
    """A :class:`rs.load.readers.Reader` over given refs; the refs whose id is in ``failing``
    fail preflight. Nothing is opened.

    ``calls`` records the ids of every ``preflight`` call, so a test can check what was asked.

    >>> ref = InputRef("a", "mem://a", None, None)
    >>> FakeReader([ref], failing={"a"}).preflight([ref], on_error="skip", needs={})[1][0].reason
    'fails preflight (FakeReader)'
    """

    refs: Sequence[InputRef]
    failing: Collection[str] = frozenset()
    kind: str = "fake"
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def find(
        self, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> list[InputRef]:
        """The refs whose datetime is within [start, end] (refs without a datetime are kept)."""
        return [
            r for r in self.refs
            if r.datetime is None
            or ((start is None or r.datetime >= start) and (end is None or r.datetime <= end))
        ]

    def preflight(
        self, refs: Sequence[InputRef], *, on_error: OnError, needs: Mapping[str, Any]
    ) -> tuple[list[InputRef], list[SkippedScene]]:
        self.calls.append(tuple(r.id for r in refs))
        reasons = [
            SkippedScene(r.id, "fake", "fails preflight (FakeReader)", r.href)
            if r.id in self.failing else None
            for r in refs
        ]
        return raise_or_report(refs, reasons, on_error, f"{self.kind} input")
