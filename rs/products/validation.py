"""Validation: an earlier step's raster product against ground monitoring stations.

Reads the ``stations`` (one tidy schema from any adapter of :mod:`rs.stations`: ``generic`` long
CSV/Parquet, ``cnemc`` daily files, ``openaq`` exports), matches every period's ``layer`` of the
``product`` step (``step`` or ``step@*``) with every station (``matchup``: nearest pixel, k × k
window or radius mean; ground values at the overpass, daily or monthly;
:class:`rs.stations.MatchupParams`), and computes the validation statistics overall, per region
and per station with bootstrap intervals, the plots and a self-contained HTML report
(:mod:`rs.stations`). Stations that could not be used (no coordinates, outside the product,
no observations) are listed with the reason, never dropped silently.

Each period's raster time is its mid-date (UTC noon); a monthly product matches monthly ground
means (``ground: monthly``).

Outputs: ``matchups`` (GeoParquet/GeoPackage: every station x period with every parameter),
``statistics`` (CSV/Parquet: level, group, n, bias, MAE, RMSE, nRMSE, r, Spearman r, OLS and
RMA slope/intercept with their intervals), ``stations_reported`` (CSV: stations left out and
why) and ``report.html``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from rs._model import Strict
from rs.products.base import Needs, ProductDef, StepSpec, StepSummary

if TYPE_CHECKING:
    from rs.pipeline.context import StepContext
    from rs.stations.schema import StationData

__all__ = ["PRODUCT", "StationsSpec", "ValidationSpec"]


class StationsSpec(Strict):
    """Where the ground data is and which adapter reads it (paths relative to the spec)."""

    kind: Literal["generic", "cnemc", "openaq"] = "generic"
    embedded: Literal["no2-demo"] | None = Field(
        default=None, description="the synthetic NO2 month's stations (generic files)"
    )
    observations: str = Field(
        default="", description="observations file (cnemc: a folder of daily files)"
    )
    stations: str | None = Field(default=None, description="stations file / station list")
    tz: str | None = Field(default=None, description="time zone of naive times (never assumed)")


Kind = Literal["linear", "gbm"]
_KINDS: tuple[Kind, ...] = ("linear", "gbm")


class CalibrationSpec(Strict):
    """Surface models from the satellite value and covariates, cross-validated by station."""

    kinds: list[Kind] = Field(default_factory=lambda: list(_KINDS))
    numeric: list[str] = Field(default_factory=lambda: ["sat_value", "hour"])
    categorical: list[str] = Field(default_factory=lambda: ["season"])
    n_splits: int = Field(default=5, ge=2)
    keep: Literal["linear", "gbm"] = Field(default="linear", description="the model saved")
    models_dir: str | None = Field(
        default=None, description="also keep the model and its card here (e.g. models/)"
    )


class ValidationSpec(StepSpec):
    """A raster product against ground stations (see the module)."""

    kind: Literal["validation"]
    product: str = Field(description="upstream raster step: 'step', 'step@period' or 'step@*'")
    layer: str = Field(description="output key of the raster, e.g. 'mean'")
    stations: StationsSpec
    matchup: dict[str, Any] = Field(
        default_factory=dict, description="rs.stations.MatchupParams (variable required)"
    )
    region: str | None = Field(default=None, description="station column for regional stats")
    n_boot: int = Field(default=1000, ge=0)
    seed: int = 0
    title: str = "Validation report"
    calibration: CalibrationSpec | None = Field(
        default=None, description="fit surface models (GroupKFold by station) and save one"
    )

    def with_paths_under(self, base: Any) -> ValidationSpec:
        """Station paths (and the models folder) made absolute under the spec's folder."""
        from pathlib import Path

        def absolute(v: str | None) -> str | None:
            return str((Path(base) / v).resolve()) if v and not Path(v).is_absolute() else v

        fixed = {"observations": absolute(self.stations.observations),
                 "stations": absolute(self.stations.stations)}
        update: dict[str, Any] = {"stations": self.stations.model_copy(update=fixed)}
        if self.calibration is not None and self.calibration.models_dir:
            update["calibration"] = self.calibration.model_copy(
                update={"models_dir": absolute(self.calibration.models_dir)})
        return self.model_copy(update=update)

    def parameters(self) -> dict[str, Any]:
        """Every field, plus the SHA-256 of the station files (an edited file rebuilds)."""
        import hashlib
        from pathlib import Path

        out = super().parameters()
        for key in ("observations", "stations"):
            value = getattr(self.stations, key)
            if value and Path(value).is_file():
                out[f"stations_{key}_sha256"] = hashlib.sha256(Path(value).read_bytes()).hexdigest()
        return out


def needs(spec: ValidationSpec) -> Needs:
    return Needs(upstream={"product": spec.product})


def outputs(spec: ValidationSpec) -> list[str]:
    return ["matchups.parquet", "matchups.gpkg", "statistics.csv", "stations_reported.csv",
            "report.html"]


def _read(spec: StationsSpec) -> StationData:
    from rs.errors import SpecError
    from rs.stations import read_cnemc, read_observations, read_openaq

    if spec.embedded == "no2-demo":
        from rs.pipeline.source import no2_demo_folder

        folder = no2_demo_folder().parent / "stations"
        return read_observations(folder / "observations.csv", stations=folder / "stations.csv")
    if not spec.observations:
        raise SpecError("stations: give 'observations' (a file or folder) or 'embedded'")
    if spec.kind == "cnemc":
        return read_cnemc(spec.observations, station_list=spec.stations)
    if spec.kind == "openaq":
        return read_openaq(spec.observations, stations=spec.stations, tz=spec.tz)
    return read_observations(spec.observations, tz=spec.tz, stations=spec.stations)


def build(ctx: StepContext) -> StepSummary:
    import datetime as dt

    import numpy as np
    import pandas as pd
    import rasterio

    from rs.errors import SpecError
    from rs.export.stac_items import file_asset
    from rs.export.tables import write_table
    from rs.export.vectors import typed_for_writing, write_vector
    from rs.stations import MatchupParams, Raster, match, to_geodataframe, write_report
    from rs.stations.report import validation_report

    spec: ValidationSpec = ctx.spec
    try:
        params = MatchupParams(**spec.matchup)
    except ValueError as e:
        raise SpecError(f"step {spec.id!r}: matchup settings: {e}") from e
    data = _read(spec.stations)
    rasters = []
    for up in sorted(ctx.upstream["product"], key=lambda u: u.period.start):
        with rasterio.open(up.asset(spec.layer)) as ds:
            values = ds.read(1).astype(np.float64)
            if ds.nodata is not None and not np.isnan(ds.nodata):
                values[values == ds.nodata] = np.nan
            mid = up.period.start + (up.period.end - up.period.start) / 2
            rasters.append(Raster(values, ds.transform, ds.crs.to_string(),
                                  pd.Timestamp(dt.datetime.combine(mid, dt.time(12)), tz="UTC"),
                                  variable=params.variable, unit=ds.units[0] or ""))
    found = match(rasters, data.stations, data.observations, params)
    html, summary = validation_report(
        found, title=spec.title, region=spec.region, n_boot=spec.n_boot, seed=spec.seed,
        reported=data.issues if len(data.issues) else None,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    table = found.table.copy()
    gdf = to_geodataframe(table)
    gdf, schema = typed_for_writing(gdf)
    ctx.out.add(*write_vector(gdf, ctx.out.staging, f"{ctx.out.stem}_matchups", key="matchups",
                              layer="matchups", schema=schema, geometry_type="Point",
                              title="satellite x station matchups"))
    ctx.out.add(*write_table(summary, ctx.out.staging, f"{ctx.out.stem}_statistics",
                             key="statistics", title="validation statistics"))
    reported = pd.concat([found.report, data.issues],
                         ignore_index=True).astype(str)
    ctx.out.add(*write_table(reported, ctx.out.staging, f"{ctx.out.stem}_stations_reported",
                             key="stations_reported", title="stations left out, and why",
                             formats=("csv",)))
    path = ctx.out.path("report", "html")
    write_report(html, path)
    ctx.out.add(file_asset("report", path, "text/html", roles=("overview",),
                           title=spec.title))
    calibration = _calibrate(ctx, spec, table) if spec.calibration else None
    overall = summary[summary["level"] == "overall"]
    stats = {} if overall.empty else {
        k: (None if pd.isna(v) else float(v))
        for k, v in overall.iloc[0].items() if k in ("n", "bias", "rmse", "r", "ols_slope")
    }
    return StepSummary(properties={"rs:validation": {
        "matchup": found.parameters, "overall": stats,
        "stations_reported": len(reported), "periods": len(rasters),
        **({"calibration": calibration} if calibration else {}),
    }})


def _calibrate(ctx: StepContext, spec: ValidationSpec, table: Any) -> dict[str, Any]:
    """Cross-validate the models by station, save the kept one with skops and its card."""
    import datetime as dt
    from pathlib import Path

    from rs.export.stac_items import file_asset
    from rs.export.tables import write_table
    from rs.stations.calibrate import Features, add_covariates, cross_validate, fit_model
    from rs.stations.modelcard import model_card, save_model

    cal = spec.calibration
    assert cal is not None
    feats = Features(numeric=tuple(cal.numeric), categorical=tuple(cal.categorical))
    rows = add_covariates(table)
    cv = cross_validate(rows, kinds=tuple(cal.kinds), features=feats, n_splits=cal.n_splits,
                        seed=spec.seed)
    ctx.out.add(*write_table(cv.metrics.astype({"fold": str}), ctx.out.staging,
                             f"{ctx.out.stem}_calibration_cv", key="calibration_cv",
                             title="cross-validation by station (GroupKFold)"))
    model = fit_model(rows, cal.keep, features=feats, seed=spec.seed)
    card = model_card(model, kind=cal.keep, table=rows, features=feats, cv=cv,
                      created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    stem = ctx.out.staging / f"{ctx.out.stem}_model"
    for path in save_model(model, stem, card):
        suffix = "".join(path.suffixes)
        key = {".skops": "model", ".card.json": "model_card", ".card.md": "model_card_md"}.get(
            suffix, path.name)
        media = {".skops": "application/octet-stream", ".card.json": "application/json",
                 ".card.md": "text/markdown"}.get(suffix, "application/octet-stream")
        ctx.out.add(file_asset(key, path, media, roles=("metadata",) if "card" in key
                               else ("data",), title=f"{cal.keep} surface model"))
    if cal.models_dir:  # a copy kept beyond this run, e.g. in the repository's models/
        Path(cal.models_dir).mkdir(parents=True, exist_ok=True)
        save_model(model, Path(cal.models_dir) / f"{ctx.out.stem}_{cal.keep}", card)
    pooled = cv.metrics[cv.metrics["fold"].astype(str) == "pooled"]
    return {"kept": cal.keep,
            "cv_r2": {str(m): float(r2) for m, r2 in zip(pooled["model"], pooled["r2"],
                                                          strict=True)}}


PRODUCT = ProductDef(kind="validation", spec=ValidationSpec, needs=needs, build=build,
                     outputs=outputs)
