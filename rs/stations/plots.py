"""Validation plots as PNG bytes (pure: no file, no global pyplot state; matplotlib's Agg
canvas on a private Figure, so plots can be drawn from any thread).

* :func:`scatter_png`: estimate against reference, points coloured by the local density of
  points (a 2-D histogram looked up per point, densest drawn last), the 1:1 line, the OLS and
  reduced-major-axis lines and a box with n, bias, RMSE and r;
* :func:`timeseries_png`: one panel per station (the stations with most pairs by default),
  reference and estimate over time;
* :func:`map_png`: stations at their lon/lat coloured by a statistic (a diverging scale centred
  on 0 for signed ones such as the bias), over an optional product raster.

PNG files carry no creation time, so the same input gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rs.errors import SpecError
from rs.stations.stats import validation_stats

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rs.stations.matchup import Raster

__all__ = ["map_png", "scatter_png", "timeseries_png"]


def _figure(size: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _sci(colorbar: Any) -> None:
    """Scientific notation (one offset label) for values such as 1e-4 mol/m²."""
    from matplotlib.ticker import ScalarFormatter

    fmt = ScalarFormatter(useMathText=True)
    fmt.set_powerlimits((-3, 4))
    colorbar.formatter = fmt
    colorbar.update_ticks()


def _png(fig: Figure, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def scatter_png(
    reference: npt.ArrayLike,
    estimate: npt.ArrayLike,
    *,
    reference_label: str = "ground",
    estimate_label: str = "satellite",
    title: str = "",
    one_to_one: bool = True,
    bins: int = 60,
    size: tuple[float, float] = (5.5, 5.0),
    dpi: int = 110,
) -> bytes:
    """Density scatter of ``estimate`` (y) against ``reference`` (x) with 1:1 and fit lines."""
    x = np.asarray(reference, dtype="float64").ravel()
    y = np.asarray(estimate, dtype="float64").ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    fig = _figure(size)
    ax = fig.add_subplot()
    if x.size == 0:
        ax.text(0.5, 0.5, "no pairs", ha="center", va="center", transform=ax.transAxes)
        return _png(fig, dpi)
    lo = float(min(x.min(), y.min())) if one_to_one else None
    hi = float(max(x.max(), y.max())) if one_to_one else None
    if x.size > 1:
        h, xe, ye = np.histogram2d(x, y, bins=bins)
        ix = np.clip(np.searchsorted(xe, x, side="right") - 1, 0, bins - 1)
        iy = np.clip(np.searchsorted(ye, y, side="right") - 1, 0, bins - 1)
        dens = h[ix, iy]
    else:
        dens = np.ones(1)
    order = np.argsort(dens, kind="stable")
    pts = ax.scatter(x[order], y[order], c=dens[order], s=9, cmap="viridis", linewidths=0)
    fig.colorbar(pts, ax=ax, label="points per bin", shrink=0.8)
    s = validation_stats(x, y)
    xs = np.array([x.min(), x.max()])
    if one_to_one and lo is not None and hi is not None:
        pad = 0.03 * (hi - lo if hi > lo else 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=1, ls="--",
                label="1:1")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal", adjustable="box")
    if np.isfinite(s["ols_slope"]):
        ax.plot(xs, s["ols_intercept"] + s["ols_slope"] * xs, color="tab:red", lw=1.3,
                label=f"OLS y = {s['ols_slope']:.3g} x + {s['ols_intercept']:.3g}")
    if np.isfinite(s["rma_slope"]):
        ax.plot(xs, s["rma_intercept"] + s["rma_slope"] * xs, color="tab:orange", lw=1.3,
                label=f"RMA y = {s['rma_slope']:.3g} x + {s['rma_intercept']:.3g}")
    text = (f"n = {s['n']}\nbias = {s['bias']:.3g}\nRMSE = {s['rmse']:.3g}\n"
            f"r = {s['r']:.3f}")
    ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", ha="left", fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"})
    ax.set_xlabel(reference_label)
    ax.set_ylabel(estimate_label)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.85)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return _png(fig, dpi)


def timeseries_png(
    table: pd.DataFrame,
    *,
    reference: str = "ground_value",
    estimate: str = "sat_value",
    stations: Sequence[str] | None = None,
    max_stations: int = 6,
    reference_label: str = "ground",
    estimate_label: str = "satellite",
    twin: bool = False,
    title: str = "",
    dpi: int = 110,
) -> bytes:
    """One panel per station: ``reference`` and ``estimate`` over ``time``. ``stations``
    defaults to the ``max_stations`` with most usable pairs; ``twin`` puts the estimate on
    its own axis (for two different quantities, e.g. a column and a concentration)."""
    for c in ("station_id", "time", reference, estimate):
        if c not in table.columns:
            raise SpecError(f"no column {c!r} for the time series")
    df = table[table["usable"].astype(bool)] if "usable" in table.columns else table
    if stations is None:
        counts = df.groupby("station_id").size().sort_values(ascending=False, kind="stable")
        stations = list(counts.index[:max_stations])
    n = max(len(stations), 1)
    fig = _figure((8.0, 1.9 * n + 0.6))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    first_twin = None
    for ax, sid in zip(axes, stations, strict=False):
        g = df[df["station_id"] == sid].sort_values("time")
        t = pd.DatetimeIndex(g["time"]).tz_convert("UTC").tz_localize(None)
        ax.plot(t, g[reference], "o-", ms=3, lw=1, color="tab:blue", label=reference_label)
        ax2 = ax.twinx() if twin else ax
        first_twin = first_twin or ax2
        ax2.plot(t, g[estimate], "s", ms=3.5, color="tab:red", label=estimate_label)
        ax.set_title(str(sid), fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        if twin:
            ax.set_ylabel(reference_label, fontsize=8, color="tab:blue")
            ax2.set_ylabel(estimate_label, fontsize=8, color="tab:red")
    if len(stations) == 0:
        axes[0].text(0.5, 0.5, "no usable pairs", ha="center", va="center",
                     transform=axes[0].transAxes)
    first = [axes[0], *([first_twin] if twin and stations else [])]
    handles = [h for a in first for h in a.get_legend_handles_labels()[0]]
    labels = [lab for a in first for lab in a.get_legend_handles_labels()[1]]
    if handles:
        fig.legend(handles, labels, loc="outside upper right", fontsize=8, ncols=2)
    axes[-1].set_xlabel("time (UTC)")
    if title:
        fig.suptitle(title, fontsize=10)
    return _png(fig, dpi)


def map_png(
    stations: pd.DataFrame,
    value: str = "bias",
    *,
    background: Raster | None = None,
    background_label: str = "",
    center: float | None = 0.0,
    title: str = "",
    size: tuple[float, float] = (7.0, 5.5),
    dpi: int = 110,
) -> bytes:
    """Stations (``lon``, ``lat``, ``value`` columns: e.g. the per-station statistics joined
    with the station table) coloured by ``value``; ``center`` (0 by default, None for none)
    makes the colour scale diverge around it. ``background``: a product raster drawn below
    (the map is then in the raster's CRS)."""
    for c in ("lon", "lat", value):
        if c not in stations.columns:
            raise SpecError(f"no column {c!r} for the map (columns: "
                            f"{', '.join(map(str, stations.columns))})")
    fig = _figure(size)
    ax = fig.add_subplot()
    x = stations["lon"].to_numpy("float64")
    y = stations["lat"].to_numpy("float64")
    geographic = True
    if background is not None:
        from pyproj import CRS, Transformer

        crs = CRS.from_user_input(background.crs)
        geographic = crs.is_geographic
        if not geographic:
            x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(x, y)
        h, w = background.data.shape
        t = background.transform
        extent = (t.c, t.c + t.a * w, t.f + t.e * h, t.f)
        im = ax.imshow(background.data, extent=extent, cmap="Greys", origin="upper",
                       interpolation="nearest", alpha=0.8)
        cb = fig.colorbar(im, ax=ax, label=background_label or background.unit, shrink=0.7,
                          location="bottom", pad=0.02)
        _sci(cb)
    v = stations[value].to_numpy("float64")
    finite = np.isfinite(v)
    norm = None
    cmap = "viridis"
    if center is not None and finite.any():
        from matplotlib.colors import TwoSlopeNorm

        span = float(np.nanmax(np.abs(v[finite] - center))) or 1.0
        norm = TwoSlopeNorm(vcenter=center, vmin=center - span, vmax=center + span)
        cmap = "RdBu_r"
    ax.scatter(x[~finite], y[~finite], s=14, facecolors="none", edgecolors="0.5", lw=0.6,
               label="no value")
    pts = ax.scatter(x[finite], y[finite], c=v[finite], s=22, cmap=cmap, norm=norm,
                     edgecolors="k", linewidths=0.3)
    _sci(fig.colorbar(pts, ax=ax, label=value, shrink=0.8))
    if geographic and y.size:
        ax.set_aspect(1.0 / max(np.cos(np.radians(float(np.nanmean(y)))), 0.1))
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
    ax.grid(alpha=0.3)
    if (~finite).any():
        ax.legend(loc="lower left", fontsize=8)
    if title:
        ax.set_title(title)
    return _png(fig, dpi)
