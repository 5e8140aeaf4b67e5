"""``rs transect-stats``: DSAS statistics per transect from a table of shoreline positions.

Registered on the ``rs`` group in :mod:`rs.cli` (which owns ``sys.exit``: failures go through
its ``_fail``, so exit codes follow :data:`rs.errors.EXIT_CODES`). Reading is
:mod:`rs.coast.positions`, the arithmetic :mod:`rs.coast.tides` and :mod:`rs.coast.stats`,
writing :func:`rs.export.tables.write_table` (atomic).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

__all__ = ["transect_stats"]

_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def _number(text: str | None) -> float | None:
    """``text`` as a number, or None when it is not one (then it names a column or a file)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


@click.command("transect-stats")
@click.argument("positions_path", metavar="POSITIONS", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Statistics table to write: .csv, or .parquet.",
)
@click.option(
    "--tides",
    type=click.Path(path_type=Path),
    help="Tide series CSV (time, water level in m) to correct positions to --z-ref.",
)
@click.option(
    "--slopes",
    metavar="SLOPES.csv|TANB",
    help="Beach slopes for the tide correction: a CSV (transect, slope) or one tanβ for all.",
)
@click.option(
    "--z-ref",
    type=float,
    default=0.0,
    show_default=True,
    help="Reference level (m, the tide series' datum) positions are corrected to.",
)
@click.option(
    "--max-tide-gap",
    default="1h",
    show_default=True,
    help="A date further than this from every tide sample has no water level (e.g. 30min).",
)
@click.option(
    "--drop-uncovered",
    is_flag=True,
    help="Leave out dates the tide series does not cover instead of failing.",
)
@click.option(
    "--confidence",
    type=float,
    default=0.95,
    show_default=True,
    help="Confidence level of the LRR and WLR confidence intervals.",
)
@click.option(
    "--uncertainty",
    metavar="COLUMN|METRES",
    help="Positional uncertainty σ for WLR: a column of the positions file or one value (m).",
)
@click.option(
    "--outlier-k",
    type=float,
    default=None,
    help="Drop positions whose LRR residual is over k robust SDs (k x 1.4826 x MAD) off.",
)
def transect_stats(positions_path: Path, out: Path, **options: Any) -> None:
    """DSAS shoreline change statistics per transect from a table of POSITIONS (CSV/Parquet).

    POSITIONS is wide (a date column and one column per transect, as CoastSat and ShoreShop
    publish) or long (transect, date, position[, uncertainty]); positions are chainages in
    metres, positive seaward. Writes per transect: n, SCE, NSM, EPR, LRR with its standard
    error, confidence interval and R², and WLR when uncertainties are given. With --tides and
    --slopes positions are first corrected to --z-ref: x + (η - z_ref) / tanβ.
    """
    from rs.cli import _fail, _out
    from rs.errors import RsError

    try:
        _run(positions_path, out, console=_out, **options)
    except RsError as e:
        _fail(e)


def _run(
    positions_path: Path,
    out: Path,
    *,
    tides: Path | None,
    slopes: str | None,
    z_ref: float,
    max_tide_gap: str,
    drop_uncovered: bool,
    confidence: float,
    uncertainty: str | None,
    outlier_k: float | None,
    console: Console,
) -> None:
    import pandas as pd

    from rs.coast.positions import read_positions, read_slopes, read_tides
    from rs.coast.stats import transect_stats as dsas
    from rs.coast.tides import tide_correct
    from rs.errors import SpecError
    from rs.export.tables import write_table

    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise SpecError(f"--out {out}: name a .csv or .parquet file")
    if (tides is None) != (slopes is None):
        raise SpecError("the tide correction needs both --tides and --slopes (or neither)")
    sigma_value = _number(uncertainty)
    pos = read_positions(
        positions_path, uncertainty=None if sigma_value is not None else uncertainty
    )
    table = pos.table
    sigma: float | pd.Series | pd.DataFrame | None = (
        sigma_value if sigma_value is not None else pos.sigma
    )
    notes = [f"{pos.layout} table, {table.shape[1]} transect(s), {table.shape[0]} date(s)"]
    if pos.ignored:
        notes.append(f"columns left out: {', '.join(pos.ignored)}")

    if tides is not None and slopes is not None:
        try:
            gap = pd.Timedelta(max_tide_gap)
        except ValueError as e:
            raise SpecError(f"--max-tide-gap {max_tide_gap!r} is not a duration (e.g. 1h)") from e
        slope_value = _number(slopes)
        tan_b = (
            slope_value
            if slope_value is not None
            else read_slopes(Path(slopes), transects=list(table.columns))
        )
        corr = tide_correct(table, read_tides(tides), tan_b, z_ref=z_ref, max_gap=gap)
        uncovered = corr.uncovered
        if len(uncovered) and not drop_uncovered:
            first = uncovered.index[0].isoformat()
            raise SpecError(
                f"{tides}: no water level for {len(uncovered)} of {len(table)} date(s), first "
                f"{first}: {uncovered.iloc[0]}; give a tide series covering the dates, a larger "
                "--max-tide-gap, or --drop-uncovered to leave those dates out"
            )
        table = corr.positions
        notes.append(
            f"tide-corrected to z_ref={z_ref:g} m"
            + (
                f", {len(uncovered)} date(s) without a water level left out"
                if len(uncovered)
                else ""
            )
        )

    stats = dsas(table, uncertainty=sigma, confidence=confidence, outlier_k=outlier_k)
    path = out.expanduser()
    write_table(stats, path.parent, path.stem, key="transect_stats", formats=(fmt,))
    _summary(console, stats, notes, path, confidence)


def _summary(
    console: Console, stats: pd.DataFrame, notes: list[str], path: Path, confidence: float
) -> None:
    from rich.markup import escape

    console.print(escape("; ".join(notes)))
    ok = stats["lrr"].notna()
    pct = f"{confidence * 100:g}%"
    if len(stats) <= 10:
        for name, row in stats.iterrows():
            if ok[name]:
                line = (
                    f"{name}: n={row['n']}, LRR {row['lrr']:+.3f} ± {row['lrr_ci']:.3f} m/yr "
                    f"({pct}), EPR {row['epr']:+.3f} m/yr, NSM {row['nsm']:+.1f} m, "
                    f"SCE {row['sce']:.1f} m"
                )
            else:
                line = f"{name}: n={row['n']}, {row['reason']}"
            console.print(escape(line))
    else:
        lrr = stats.loc[ok, "lrr"]
        console.print(
            f"{len(stats)} transects, {int(ok.sum())} with a rate: LRR median {lrr.median():+.3f}"
            f" m/yr (min {lrr.min():+.3f}, max {lrr.max():+.3f})"
        )
    flagged = int((stats["reason"] != "").sum())
    if flagged:
        console.print(f"{flagged} transect(s) with NaN statistics (see the reason column)")
    console.print(escape(f"wrote {path}"))
