"""The validation report: one self-contained HTML file an analyst can attach to a publication.

Everything is inside the file: the CSS inline, the plots as ``data:image/png;base64`` images,
no script, no font, no link to anything outside (:func:`external_references` finds any), so it
opens offline in any browser. Sections: the parameters of the matchup, the statistics overall
(table ``id="stats-overall"``), per region (``stats-region``) and per station
(``stats-station``, folded), the figures, and the stations that were reported (``reported``).

:func:`render_report` and :func:`validation_report` are pure (they return the HTML text);
:func:`write_report` writes it atomically.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from rs.stations.matchup import Matchups, Raster

__all__ = ["Figure", "external_references", "render_report", "validation_report",
           "write_report"]

#: columns of the statistics tables in the report, in order
REPORT_COLUMNS = ("group", "n", "bias", "mae", "rmse", "nrmse", "r", "spearman_r", "ols_slope",
                  "ols_intercept", "rma_slope", "rma_intercept")
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:2rem auto;max-width:1100px;color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{margin:1rem 0;display:inline-block;vertical-align:top}
figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}.meta{color:#666;font-size:.85rem}
details summary{cursor:pointer;margin:.5rem 0}
"""


@dataclass(frozen=True)
class Figure:
    """A PNG for the report, with its title and caption."""

    title: str
    png: bytes
    caption: str = ""


def render_report(
    *,
    title: str,
    summary: pd.DataFrame,
    figures: Sequence[Figure] = (),
    parameters: Mapping[str, Any] | None = None,
    reported: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    generated: str | None = None,
    ci_level: float | None = None,
) -> str:
    """The report's HTML. ``summary``: :func:`rs.stations.stats.summary_table` output (levels
    overall / region / station; ``<stat>_lo`` / ``_hi`` columns shown as intervals when
    present); ``reported``: stations reported by the matchup or the adapters."""
    for f in figures:
        if not f.png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError(f"figure {f.title!r} is not a PNG")
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width,initial-scale=1">',
             f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>"]
    if generated:
        parts.append(f'<p class="meta">Generated {e(generated)}</p>')
    parts += [f"<p>{e(n)}</p>" for n in notes]
    if parameters:
        parts.append("<h2>Matchup parameters</h2>")
        parts.append(_kv_table(parameters, "parameters"))
    ci = f" (with {ci_level:.0%} bootstrap intervals)" if ci_level else ""
    for level, heading, folded in (("overall", "Overall statistics", False),
                                   ("region", "Statistics per region", False),
                                   ("station", "Statistics per station", True)):
        rows = summary[summary["level"] == level] if "level" in summary.columns else summary
        if rows.empty:
            continue
        table = _stats_table(rows, f"stats-{level}")
        parts.append(f"<h2>{e(heading)}{e(ci)}</h2>")
        if folded:
            parts.append(f"<details><summary>{len(rows)} stations</summary>{table}</details>")
        else:
            parts.append(table)
    if figures:
        parts.append("<h2>Figures</h2>")
        for f in figures:
            b64 = base64.b64encode(f.png).decode("ascii")
            parts.append(
                f'<figure><img alt="{e(f.title)}" src="data:image/png;base64,{b64}">'
                f"<figcaption><b>{e(f.title)}</b>"
                + (f" {e(f.caption)}" if f.caption else "") + "</figcaption></figure>")
    if reported is not None and len(reported):
        parts.append(f"<h2>Reported stations ({len(reported)})</h2>")
        parts.append("<p>Left out of the statistics, with the reason.</p>")
        parts.append(_frame_table(reported, "reported"))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def validation_report(
    matchups: Matchups,
    *,
    title: str = "Validation report",
    reference: str = "ground_value",
    estimate: str = "sat_value",
    region: str | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    background: Raster | None = None,
    reported: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    generated: str | None = None,
) -> tuple[str, pd.DataFrame]:
    """Statistics, the three plots and the report of a matchup in one call:
    ``(html, summary)`` with ``summary`` from :func:`rs.stations.stats.summary_table`.
    ``reported`` is added to the matchup's own report (e.g. an adapter's issues)."""
    from rs.stations.plots import map_png, scatter_png, timeseries_png
    from rs.stations.stats import summary_table

    t = matchups.table
    summary = summary_table(t, reference=reference, estimate=estimate, region=region,
                            n_boot=n_boot, level=level, seed=seed)
    used = t[t["usable"].astype(bool)] if "usable" in t.columns else t
    ref_label, est_label = _label(t, reference), _label(t, estimate)
    same_unit = ref_label.split(" (")[-1] == est_label.split(" (")[-1]
    per_station = summary[summary["level"] == "station"].merge(
        t.drop_duplicates("station_id")[["station_id", "lon", "lat"]],
        left_on="group", right_on="station_id")
    if not same_unit:
        notes = [*notes, f"The estimate ({est_label}) and the reference ({ref_label}) are "
                 "different quantities: bias, MAE and RMSE mix their units; read r and the "
                 "slopes, or validate a calibrated estimate."]
    figures = [
        Figure("Scatter", scatter_png(used[reference], used[estimate], reference_label=ref_label,
                                      estimate_label=est_label, one_to_one=same_unit),
               "Each point a station and time; colour: points per bin"
               + ("; dashed: 1:1." if same_unit else ".")),
        Figure("Time series", timeseries_png(t, reference=reference, estimate=estimate,
                                             reference_label=ref_label,
                                             estimate_label=est_label, twin=not same_unit),
               "The stations with most pairs."),
        Figure("Map of the bias", map_png(per_station, "bias", background=background),
               "Mean (estimate - reference) per station."),
    ]
    rep = [matchups.report] + ([reported] if reported is not None else [])
    html_text = render_report(
        title=title, summary=summary, figures=figures, parameters=matchups.parameters,
        reported=pd.concat(rep, ignore_index=True), notes=notes, generated=generated,
        ci_level=level if n_boot else None)
    return html_text, summary


def write_report(html_text: str, path: Path | str) -> Path:
    """Write the report atomically (temporary file beside it, then rename)."""
    from rs.export._atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(html_text, encoding="utf-8")
    return path


_REF = re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']?([^"'\s>]+)|url\(\s*["']?"""
                  r"""([^"')\s]+)|@import\s+["']([^"']+)""", re.IGNORECASE)


def external_references(html_text: str) -> list[str]:
    """Every reference in ``html_text`` that would need something outside the file (anything
    but ``data:`` URIs and ``#fragments``)."""
    out = []
    for m in _REF.finditer(html_text):
        ref = next(g for g in m.groups() if g)
        if not ref.startswith(("data:", "#")):
            out.append(ref)
    return out


def _label(t: pd.DataFrame, column: str) -> str:
    prefix = {"ground_value": "ground", "sat_value": "sat"}.get(column)
    if prefix and f"{prefix}_variable" in t.columns and len(t):
        return f"{t[f'{prefix}_variable'].iloc[0]} ({t[f'{prefix}_unit'].iloc[0]})"
    return column


def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return "–" if not np.isfinite(v) else f"{float(v):.4g}"
    return str(v)


def _stats_table(rows: pd.DataFrame, table_id: str) -> str:
    e = html.escape
    cols = [c for c in REPORT_COLUMNS if c in rows.columns]
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = []
    for r in rows.to_dict("records"):
        cells = []
        for c in cols:
            text = _fmt(r[c])
            lo, hi = r.get(f"{c}_lo"), r.get(f"{c}_hi")
            if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
                text += f' <span class="meta">[{_fmt(lo)}, {_fmt(hi)}]</span>'
            cells.append(f"<td>{text if c != 'group' else e(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(body) + "</tbody></table>")


def _frame_table(df: pd.DataFrame, table_id: str) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{e(_fmt(v))}</td>" for v in r) + "</tr>"
                   for r in df.itertuples(index=False))
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _kv_table(d: Mapping[str, Any], table_id: str) -> str:
    e = html.escape
    body = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in d.items())
    return f'<table id="{table_id}"><tbody>{body}</tbody></table>'
