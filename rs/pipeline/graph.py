"""Steps x periods: check a spec's references and expand it into the runs to make (pure).

A step runs once for each of its periods (every period of the spec when it lists none). It
reads earlier steps' outputs by reference:

``"composite"``        the output of step ``composite`` for the same period;
``"composite@2022-H1"`` the output of step ``composite`` for period ``2022-H1``;
``"composite@*"``       the outputs of step ``composite`` for all its periods (e.g. a trend).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rs.pipeline.periods import Period
from rs.products import PRODUCTS
from rs.products.base import Needs, StepSpec

if TYPE_CHECKING:
    from rs.pipeline.spec import PipelineSpec

__all__ = ["StepRun", "check_steps", "expand_runs", "resolve_source"]


@dataclass
class StepRun:
    """One step for one period: the unit the ledger tracks and an output item describes."""

    step: StepSpec
    period: Period
    needs: Needs
    upstream: dict[str, list[StepRun]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.step.kind

    def item_id(self, pipeline: str) -> str:
        return f"{pipeline}-{self.step.id}-{self.period.label}"

    def file_stem(self, pipeline: str) -> str:
        return f"{pipeline}_{self.step.id}_{self.period.label}"


def _step_periods(step: StepSpec, named: dict[str, list[Period]]) -> list[Period]:
    names = step.periods if step.periods is not None else list(named)
    return [p for n in names for p in named[n]]


def resolve_source(spec: PipelineSpec, step: StepSpec, role: str, needs: Needs) -> str:
    """The name of the spec source that plays ``role`` for ``step`` (checked)."""
    from rs.pipeline.spec import READER_OF_SOURCE

    need = needs.sources[role]
    if need.source is not None:
        if need.source not in spec.sources:
            raise ValueError(
                f"step {step.id!r}: source {need.source!r} is not defined; "
                f"defined sources: {sorted(spec.sources)}"
            )
        got = READER_OF_SOURCE[spec.sources[need.source].kind]
        if got != need.reader:
            raise ValueError(
                f"step {step.id!r}: source {need.source!r} is a {spec.sources[need.source].kind} "
                f"source but {role!r} needs {need.reader} data"
            )
        return need.source
    fits = [n for n, s in spec.sources.items() if READER_OF_SOURCE[s.kind] == need.reader]
    if len(fits) != 1:
        which = "none is defined" if not fits else f"there are several: {fits}"
        raise ValueError(
            f"step {step.id!r} needs a source of {need.reader} data for {role!r} and {which}; "
            "name it in the step (e.g. 'source: s2')"
        )
    return fits[0]


def check_steps(spec: PipelineSpec) -> None:
    """Raise ValueError (a spec error) for any reference a step makes that cannot be met."""
    named = spec.all_periods()
    labels: dict[str, str] = {}
    for name, periods in named.items():
        for p in periods:
            if p.name in labels and labels[p.name] != name:
                raise ValueError(
                    f"periods {labels[p.name]!r} and {name!r} both define a period {p.name!r}"
                )
            labels[p.name] = name
    seen: dict[str, list[Period]] = {}
    for step in spec.steps:
        if step.id in seen:
            raise ValueError(f"two steps have the id {step.id!r}: step ids must be unique")
        for n in step.periods or []:
            if n not in named:
                raise ValueError(
                    f"step {step.id!r}: period {n!r} is not defined; "
                    f"defined periods: {sorted(named)}"
                )
        needs = PRODUCTS[step.kind].needs(step)
        for role in needs.sources:
            resolve_source(spec, step, role, needs)
        mine = _step_periods(step, named)
        for role, ref in needs.upstream.items():
            up, _, per = ref.partition("@")
            if up == step.id:
                raise ValueError(f"step {step.id!r} ({role}) reads its own output")
            if up not in seen:
                later = any(s.id == up for s in spec.steps)
                raise ValueError(
                    f"step {step.id!r} ({role}) reads step {up!r}, which "
                    + ("comes later: list it before" if later else "is not defined")
                )
            have = {p.name for p in seen[up]}
            if per == "*":
                continue
            if per:
                if per not in have:
                    raise ValueError(
                        f"step {step.id!r} ({role}) reads {ref!r} but step {up!r} does not run "
                        f"for period {per!r}; it runs for {sorted(have)}"
                    )
            else:
                missing = [p.name for p in mine if p.name not in have]
                if missing:
                    raise ValueError(
                        f"step {step.id!r} ({role}) reads step {up!r} for the same period, but "
                        f"{up!r} does not run for {missing}: write {up}@PERIOD"
                    )
        seen[step.id] = mine


def expand_runs(spec: PipelineSpec) -> list[StepRun]:
    """Every step x period of ``spec`` in an order where upstream runs come first."""
    named = spec.all_periods()
    runs: list[StepRun] = []
    by_step: dict[str, list[StepRun]] = {}
    for step in spec.steps:
        needs = PRODUCTS[step.kind].needs(step)
        mine = []
        for period in _step_periods(step, named):
            run = StepRun(step, period, needs)
            for role, ref in needs.upstream.items():
                up, _, per = ref.partition("@")
                ups = by_step[up]
                if per == "*":
                    run.upstream[role] = list(ups)
                else:
                    want = per or period.name
                    run.upstream[role] = [u for u in ups if u.period.name == want]
            mine.append(run)
        by_step[step.id] = mine
        runs.extend(mine)
    return runs
