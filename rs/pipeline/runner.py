"""Run a pipeline spec: every step x period in order, each one up to date or rebuilt.

For each step x period the runner finds the step's inputs (scenes, swaths, tables) through the
spec's named sources, preflights them, computes the run key (parameters, grid, AOI, period,
the inputs the catalogue holds, the upstream run keys, the rs version) and either finds the
output item already published with that key, or calls the product's ``build`` with a
:class:`~rs.pipeline.context.StepContext` and publishes what it wrote: files first (from a
staging folder), the STAC item that describes them last. A later step reads earlier steps'
outputs back through their files, so a failed later step leaves earlier outputs valid.

The runner never names a product: products are looked up in :data:`rs.products.PRODUCTS`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rs import __version__
from rs._redact import redact, redact_obj
from rs.aoi import Aoi
from rs.errors import EmptyProductError, NoScenesError, OutputError, exit_code_for
from rs.export._atomic import check_writable
from rs.export.stac_items import OutputAsset, output_item, write_output_item
from rs.pipeline.cluster import dask_client, probe_scheduler
from rs.pipeline.context import Outputs, Runtime, StepContext, Upstream
from rs.pipeline.graph import StepRun, expand_runs, resolve_source
from rs.pipeline.inputs import SourceSet
from rs.pipeline.ledger import (
    asset_paths,
    build_reason,
    find_up_to_date,
    parameters_sha256,
    run_key,
)
from rs.pipeline.lock import run_lock
from rs.pipeline.periods import describe_periods
from rs.pipeline.progress import QuietReporter, Reporter
from rs.pipeline.report import StepOutcome, write_report
from rs.pipeline.spec import PipelineSpec
from rs.products import PRODUCTS
from rs.products.base import GridMixin

__all__ = ["RunResult", "run_pipeline"]


@dataclass
class RunResult:
    """What a run did: ``status`` is ``done``, ``up-to-date`` or ``dry-run``."""

    status: str
    output_dir: Path
    steps: list[StepOutcome] = field(default_factory=list)
    report_path: Path | None = None

    @property
    def files(self) -> list[Path]:
        return [self.output_dir / f for s in self.steps for f in s.outputs]

    @property
    def scenes_used(self) -> list[str]:
        return list(dict.fromkeys(i for s in self.steps for i in s.scenes_used))

    @property
    def scenes_skipped(self) -> list[dict[str, Any]]:
        return [r for s in self.steps for r in s.scenes_skipped]

    @property
    def layers(self) -> list[dict[str, Any]]:
        return [r for s in self.steps for r in s.layers]


@dataclass
class _Run:
    """State of one pipeline run shared by its steps."""

    spec: PipelineSpec
    aoi: Aoi
    out_dir: Path
    reporter: Reporter
    sources: SourceSet
    stack: contextlib.ExitStack
    scheduler: str | None
    force: bool
    dry_run: bool
    runtime: Runtime | None = None
    published: dict[int, Upstream] = field(default_factory=dict)
    current: StepOutcome | None = None  # the step x period being made, for a failure report

    def get_runtime(self) -> Runtime:
        if self.runtime is None:
            d = self.spec.dask
            client = self.stack.enter_context(
                dask_client(
                    self.scheduler,
                    workers=d.workers,
                    threads_per_worker=d.threads_per_worker,
                    memory_limit=d.memory_limit,
                    processes=d.processes,
                    timeout=d.connect_timeout,
                )
            )
            self.runtime = Runtime(
                client,
                reporter=self.reporter,
                on_error=self.spec.on_scene_error,
                block_size=d.block_size,
            )
        return self.runtime


def run_pipeline(
    spec: PipelineSpec,
    *,
    scheduler: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    spec_path: Path | None = None,
) -> RunResult:
    """Run ``spec``; raise an :class:`rs.errors.RsError` subclass on any user-facing failure.

    With ``dry_run`` nothing is computed or written: the result lists the inputs found per
    step and period and whether each step would run or is up to date.

    A real run holds the output folder's lock (:class:`~rs.pipeline.lock.RunLock`) from
    before its first search to after its report: a second run of the same output raises
    :class:`~rs.errors.RunLockedError` and touches nothing. A lock left by a killed run is
    taken over with a warning (recorded in the report, ``lock.stale``), and the staging folders
    that run left are removed. ``spec_path`` is only recorded (in the lock file).
    """
    if dry_run:
        return _run_pipeline(spec, scheduler, force, dry_run, reporter, {})
    with run_lock(check_writable(spec.output).resolve(), spec_path or spec.name) as lock:
        return _run_pipeline(spec, scheduler, force, dry_run, reporter, {"lock": lock})


def _run_pipeline(
    spec: PipelineSpec,
    scheduler: str | None,
    force: bool,
    dry_run: bool,
    reporter: Reporter | None,
    info: dict[str, Any],
) -> RunResult:
    rep = reporter or QuietReporter()
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    out_dir = (Path(spec.output) if dry_run else check_writable(spec.output)).resolve()
    outcomes: list[StepOutcome] = []
    timings: dict[str, float] = {}
    state: _Run | None = None
    try:
        if scheduler:  # a refused connection fails now, before any search
            probe_scheduler(scheduler, spec.dask.connect_timeout)
        aoi = Aoi.load(spec.aoi)
        runs = expand_runs(spec)
        rep.stage(
            f"AOI {spec.aoi_label}: {len(aoi.gdf)} polygon(s); "
            f"{len(runs)} step run(s): " + ", ".join(r.item_id(spec.name) for r in runs)
        )
        with SourceSet(spec, aoi.union, rep) as sources, contextlib.ExitStack() as stack:
            state = _Run(spec, aoi, out_dir, rep, sources, stack, scheduler, force, dry_run)
            for run in runs:
                outcomes.append(_step_or_empty(state, run))
                state.current = None
            timings["search_s"] = sources.search_s
    except Exception as e:  # a failure report for any failure, then the error as it was
        if not dry_run:
            failed = state.current if state is not None else None
            if failed is not None:
                failed.status = "failed"
            steps = [*outcomes, *([failed] if failed else [])]
            _report(spec, out_dir, started, t0, timings, "failed", steps, info, error=e)
        raise
    finally:
        rep.close()
    if dry_run:
        status = "dry-run"
    elif any(o.status == "built" for o in outcomes):
        status = "done"
    else:
        status = "up-to-date"
    res = RunResult(status, out_dir, outcomes)
    if not dry_run:
        res.report_path = _report(spec, out_dir, started, t0, timings, status, outcomes, info)
    return res


def _report(
    spec: PipelineSpec,
    out_dir: Path,
    started: dt.datetime,
    t0: float,
    timings: dict[str, float],
    status: str,
    outcomes: list[StepOutcome],
    info: dict[str, Any],
    error: BaseException | None = None,
) -> Path | None:
    if not out_dir.is_dir():
        return None
    timings = {**timings, "total_s": time.perf_counter() - t0}
    body: dict[str, Any] = {
        "status": status,
        "rs_version": __version__,
        "finished": dt.datetime.now(dt.UTC).isoformat(),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "steps": [o.as_dict() for o in outcomes],
        "spec": spec.model_dump(mode="json"),
        "periods": describe_periods(spec.all_periods()),
        **info,
    }
    if error is not None:
        body["error"] = {
            "type": type(error).__name__,
            "message": str(error),
            "exit_code": exit_code_for(error),
            "failed_step": next((o.item_id for o in outcomes if o.status == "failed"), None),
        }
    try:
        return write_report(out_dir, spec.name, started, body)
    except OSError:
        return None  # the output folder is the problem: the CLI reports the original error


class _UpstreamMissingError(Exception):
    """An earlier step x period this run reads was empty (``on_empty_period: skip``)."""


def _step_or_empty(state: _Run, run: StepRun) -> StepOutcome:
    """:func:`_step`, or with ``on_empty_period: skip`` an ``empty`` / ``skipped`` outcome for a
    step x period without scenes or valid pixels and for the steps that needed it."""
    try:
        return _step(state, run)
    except (NoScenesError, EmptyProductError, _UpstreamMissingError) as e:
        if state.spec.on_empty_period != "skip" and not isinstance(e, _UpstreamMissingError):
            raise
        outcome = state.current
        assert outcome is not None
        outcome.status = "skipped" if isinstance(e, _UpstreamMissingError) else "empty"
        outcome.reason = str(e)
        state.reporter.stage(f"[yellow]{outcome.item_id} {outcome.status}[/]: {e}")
        return outcome


def _upstream(state: _Run, run: StepRun) -> dict[str, list[Upstream]]:
    """The published outputs ``run`` reads; an empty period is left out of a ``step@*`` role
    and makes a single reference raise :class:`_UpstreamMissingError`."""
    out: dict[str, list[Upstream]] = {}
    for role, ups in run.upstream.items():
        found = [state.published[id(u)] for u in ups if id(u) in state.published]
        missing = [u for u in ups if id(u) not in state.published]
        ref = run.needs.upstream[role]
        if missing and (not ref.endswith("@*") or not found):
            names = ", ".join(u.item_id(state.spec.name) for u in missing)
            raise _UpstreamMissingError(f"needs {names}, which has no output (empty period)")
        out[role] = found
    return out


def _step(state: _Run, run: StepRun) -> StepOutcome:
    spec, rep = state.spec, state.reporter
    step, period = run.step, run.period
    item_id = run.item_id(spec.name)
    # the grid of a raster step: its own crs or the AOI's UTM zone; other steps have none
    crs = (step.crs or state.aoi.utm_crs().to_string()) if isinstance(step, GridMixin) else None
    outcome = state.current = StepOutcome(step.id, run.kind, period.name, item_id, "built")
    inputs: dict[str, list[Any]] = {}
    input_keys: dict[str, Any] = {}
    names = {role: resolve_source(spec, step, role, run.needs) for role in run.needs.sources}
    for role, need in run.needs.sources.items():
        name = names[role]
        found = state.sources.find(name, period)
        if not found:
            raise state.sources.no_inputs(name, period, step.id)
        outcome.scenes_found += len(found)
        usable, skipped = state.sources.preflight(name, found, need.check, spec.on_scene_error)
        for s in skipped:
            rep.stage(f"[yellow]skipped scene {s.item_id}[/]: {s.reason}")
        rows = [
            {
                "scene": s.item_id,
                "asset": s.asset,
                "reason": s.reason,
                "status": "skipped (preflight)",
            }
            for s in skipped
        ]
        outcome.scenes_skipped += rows
        if not usable:
            raise NoScenesError(
                f"step {step.id!r}, period {period.name}: all {len(found)} inputs of source "
                f"{name!r} were unreadable: {rows[0]['reason'] if rows else ''}"
            )
        inputs[role] = usable
        # the key holds what the catalogue offers, not what the pixels allowed: a scene found
        # corrupt while computing does not make every later run rebuild
        input_keys[role] = {
            "source": name,
            "found": sorted((r.id, r.checksum or "") for r in found),
            "unreadable": sorted(s.item_id for s in skipped),
        }
    upstream = _upstream(state, run)
    params = step.parameters()
    outcome.run_key = run_key(
        {
            "parameters": params,
            "crs": crs,
            "aoi": state.aoi.union.wkt,
            "period": [period.start.isoformat(), period.end.isoformat()],
            "inputs": input_keys,
            "upstream": {role: [u.run_key for u in ups] for role, ups in upstream.items()},
            **({"export": spec.export.model_dump()} if spec.export.shapefile else {}),
        },
        [],
        __version__,
    )
    outcome.scenes_used = [r.id for refs in inputs.values() for r in refs]
    outcome.upstream = [u.item["id"] for ups in upstream.values() for u in ups]
    item_path = state.out_dir / "items" / f"{item_id}.json"
    if not state.force and (done := find_up_to_date(state.out_dir, item_id, outcome.run_key)):
        rep.stage(f"{item_id} is up to date: nothing to do (use --force to rebuild)")
        outcome.status = "up-to-date"
        outcome.item_path = str(item_path)
        outcome.outputs = [
            str(p.relative_to(state.out_dir)) for p in asset_paths(item_path, done).values()
        ]
        props = done["properties"]
        outcome.scenes_used = list(props.get("rs:inputs", outcome.scenes_used))
        outcome.scenes_skipped = list(props.get("rs:skipped", outcome.scenes_skipped))
        state.published[id(run)] = Upstream(step.id, period, done, item_path, outcome.run_key)
        return outcome
    offered = [i for k in input_keys.values() for i, _ in k["found"]]
    outcome.reason = build_reason(
        state.out_dir,
        item_id,
        parameters=params,
        inputs=offered,
        version=__version__,
        force=state.force,
    )
    if state.dry_run:
        outcome.status = "would-run"
        stem = run.file_stem(spec.name)
        outcome.outputs = [f"{stem}_{f}" for f in PRODUCTS[run.kind].outputs(step)]
        placeholder = {"id": item_id, "assets": {}}
        state.published[id(run)] = Upstream(
            step.id, period, placeholder, item_path, outcome.run_key
        )
        return outcome
    return _build(state, run, outcome, inputs, upstream, crs, names)


def _build(
    state: _Run,
    run: StepRun,
    outcome: StepOutcome,
    inputs: dict[str, list[Any]],
    upstream: dict[str, list[Upstream]],
    crs: str | None,
    names: dict[str, str],
) -> StepOutcome:
    spec, rep = state.spec, state.reporter
    what = f"{len(outcome.scenes_used)} input(s)" if inputs else ", ".join(outcome.upstream)
    rep.stage(f"building {outcome.item_id} from {what}")
    runtime = state.get_runtime()
    out_dir = state.out_dir
    staging = out_dir / f".rs-staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        ctx = StepContext(
            spec.name,
            run,
            state.aoi,
            crs,
            inputs,
            upstream,
            runtime,
            Outputs(staging, run.file_stem(spec.name)),
        )
        summary = PRODUCTS[run.kind].build(ctx)
        if spec.export.shapefile:  # zipped Shapefiles of the vector layers, on request
            from rs.export.vectors import shapefile_assets

            ctx.out.add(*shapefile_assets(ctx.out.assets))
        late = ctx.scene_use.rows()
        for row in late:
            rep.stage(
                f"[yellow]{row['status']} scene {row['scene']}[/] "
                f"({row['blocks_skipped']} block(s) left it out): {row['reason']}"
            )
        outcome.scenes_skipped += late
        unusable = {s.item_id for s in ctx.scene_use.fully_skipped()}
        used = [i for i in outcome.scenes_used if i not in unusable]
        if outcome.scenes_used and not used:
            raise NoScenesError(
                f"step {run.step.id!r}, period {run.period.name}: all inputs have unreadable "
                f"pixel data, e.g. {late[0]['scene']}: {late[0]['reason']}"
            )
        if summary.valid_pixels == 0:
            raise EmptyProductError(
                f"step {run.step.id!r}, period {run.period.name}: the product has no valid "
                "pixel inside the AOI (every observation masked, or the AOI smaller than a "
                "pixel): check the AOI, the resolution and the mask classes"
            )
        outcome.scenes_used = used
        outcome.layers = summary.layers
        final = [_moved(a, staging, out_dir) for a in ctx.out.assets]
        checksums = {r.id: r.checksum for refs in inputs.values() for r in refs if r.checksum}
        item = output_item(
            out_dir,
            item_id=outcome.item_id,
            geometry=state.aoi.union,
            start=run.period.start_datetime,
            end=run.period.end_datetime,
            assets=final,
            properties={
                "rs:version": __version__,
                "rs:run_key": outcome.run_key,
                "rs:pipeline": spec.name,
                "rs:step": run.step.id,
                "rs:kind": run.kind,
                "rs:period": run.period.name,
                **({"rs:relative_period": rule} if (rule := run.period.rule()) else {}),
                "rs:parameters": run.step.parameters(),
                "rs:parameters_sha256": parameters_sha256(run.step.parameters()),
                **({"rs:crs": crs} if crs else {}),
                "rs:inputs": used,
                **({"rs:input_checksums": checksums} if checksums else {}),
                "rs:skipped": redact_obj(outcome.scenes_skipped),
                "rs:sources": {role: redact(spec.sources[n].label()) for role, n in names.items()},
                "processing:software": {"rs": __version__},
                **summary.properties,
            },
            derived_from=outcome.upstream,
        )
        # publish: data files first, the item that describes them last
        for staged, target in zip(ctx.out.assets, final, strict=True):
            os.replace(staged.path, target.path)
        item_path = write_output_item(out_dir, item)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    outcome.item_path = str(item_path)
    outcome.outputs = [str(a.path.relative_to(out_dir)) for a in final]
    state.published[id(run)] = Upstream(run.step.id, run.period, item, item_path, outcome.run_key)
    return outcome


def _moved(a: OutputAsset, staging: Path, out_dir: Path) -> OutputAsset:
    """``a`` as it will be once moved from ``staging`` into ``out_dir``; a file that would land
    outside ``out_dir`` (a name with ``..`` or ``/`` from data) is refused."""
    norm = Path(os.path.normpath(a.path))
    if not norm.is_relative_to(staging) or norm == staging:
        raise OutputError(f"output {a.key!r} ({a.path.name!r}) would be written outside the "
                          f"output folder {out_dir}: a product named a file from its data; "
                          "report this as a bug in rs")
    return dataclasses.replace(a, path=out_dir / norm.relative_to(staging))
