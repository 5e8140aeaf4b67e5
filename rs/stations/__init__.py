"""Ground stations: read networks into one tidy schema, match them with gridded products,
validate, plot, report and calibrate.

==================  ========================================================================
``schema``          the tidy tables (stations, observations, issues) and their checks (pure)
``units``           µg/m³ <-> ppb at a stated temperature and pressure (pure)
``generic``         long CSV / Parquet tables (I/O)
``cnemc``           China national network daily files ``china_sites_YYYYMMDD.csv`` (I/O)
``openaq``          OpenAQ exports (I/O)
``matchup``         raster(s) x stations: pixels, time windows, the matchup table (pure)
``stats``           validation statistics with bootstrap intervals (pure)
``plots``           scatter, time-series and map PNGs (pure: returns bytes)
``report``          the self-contained HTML report (renders pure; writes atomically)
``calibrate``       scikit-learn surface models, GroupKFold by station
``modelcard``       skops model files with their model card
==================  ========================================================================

Names are imported on first use, so ``import rs.stations`` stays light (no matplotlib or
scikit-learn until asked for).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "StationData": "rs.stations.schema",
    "to_utc": "rs.stations.schema",
    "combine": "rs.stations.schema",
    "convert": "rs.stations.units",
    "convert_observations": "rs.stations.units",
    "normalize_unit": "rs.stations.units",
    "read_observations": "rs.stations.generic",
    "read_stations": "rs.stations.generic",
    "read_cnemc": "rs.stations.cnemc",
    "read_cnemc_stations": "rs.stations.cnemc",
    "read_openaq": "rs.stations.openaq",
    "Raster": "rs.stations.matchup",
    "MatchupParams": "rs.stations.matchup",
    "Matchups": "rs.stations.matchup",
    "match": "rs.stations.matchup",
    "to_geodataframe": "rs.stations.matchup",
    "validation_stats": "rs.stations.stats",
    "bootstrap": "rs.stations.stats",
    "stats_table": "rs.stations.stats",
    "summary_table": "rs.stations.stats",
    "scatter_png": "rs.stations.plots",
    "timeseries_png": "rs.stations.plots",
    "map_png": "rs.stations.plots",
    "render_report": "rs.stations.report",
    "write_report": "rs.stations.report",
    "cross_validate": "rs.stations.calibrate",
    "fit_model": "rs.stations.calibrate",
    "predict": "rs.stations.calibrate",
    "model_card": "rs.stations.modelcard",
    "save_model": "rs.stations.modelcard",
    "load_model": "rs.stations.modelcard",
}

__all__ = [
    "MatchupParams",
    "Matchups",
    "Raster",
    "StationData",
    "bootstrap",
    "combine",
    "convert",
    "convert_observations",
    "cross_validate",
    "fit_model",
    "load_model",
    "map_png",
    "match",
    "model_card",
    "normalize_unit",
    "predict",
    "read_cnemc",
    "read_cnemc_stations",
    "read_observations",
    "read_openaq",
    "read_stations",
    "render_report",
    "save_model",
    "scatter_png",
    "stats_table",
    "summary_table",
    "timeseries_png",
    "to_geodataframe",
    "to_utc",
    "validation_stats",
    "write_report",
]

if TYPE_CHECKING:
    from rs.stations.calibrate import cross_validate, fit_model, predict
    from rs.stations.cnemc import read_cnemc, read_cnemc_stations
    from rs.stations.generic import read_observations, read_stations
    from rs.stations.matchup import MatchupParams, Matchups, Raster, match, to_geodataframe
    from rs.stations.modelcard import load_model, model_card, save_model
    from rs.stations.openaq import read_openaq
    from rs.stations.plots import map_png, scatter_png, timeseries_png
    from rs.stations.report import render_report, write_report
    from rs.stations.schema import StationData, combine, to_utc
    from rs.stations.stats import bootstrap, stats_table, summary_table, validation_stats
    from rs.stations.units import convert, convert_observations, normalize_unit


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rs.stations' has no attribute {name!r}")
