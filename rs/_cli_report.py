"""What ``rs run`` prints when it is done: per step, the outputs and a summary of the layers."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rs.pipeline.runner import RunResult

__all__ = ["print_result"]


def print_result(out: Console, result: RunResult) -> None:
    """Print ``result`` (of a run or a dry run) to ``out``."""
    if result.status == "dry-run":
        out.print(
            "dry run: nothing computed or written; outputs would go to "
            + escape(str(result.output_dir))
        )
        for s in result.steps:
            out.print(
                f"[bold]{s.item_id}[/]: {s.status}; inputs: {s.scenes_found} found, "
                f"{len(s.scenes_skipped)} unreadable"
                + (f"; reads {', '.join(s.upstream)}" if s.upstream else "")
            )
            for f in s.outputs:
                out.print(f"  {escape(f)}")
        return
    out.print(f"[bold green]{result.status}[/]: outputs in {escape(str(result.output_dir))}")
    out.print(f"STAC catalog: {result.output_dir / 'catalog.json'}")
    if result.report_path:
        out.print(f"run report:   {result.report_path}")
    for s in result.steps:
        out.print(
            f"[bold]{s.item_id}[/]: {s.status}; scenes used: {len(s.scenes_used)}, "
            f"skipped: {len(s.scenes_skipped)}"
        )
        if s.layers:
            cols = tuple(s.layers[0])
            note = " (valid_fraction: share of AOI pixels with a value)"
            table = Table(
                title=f"{s.step} layers over the AOI" + (note if "valid_fraction" in cols else "")
            )
            for col in cols:
                table.add_column(col, justify="left" if col == "layer" else "right")
            for row in s.layers:
                table.add_row(*("" if row.get(c) is None else str(row[c]) for c in cols))
            out.print(table)
    files = Table(title="files")
    files.add_column("file")
    files.add_column("size", justify="right")
    for p in result.files:
        files.add_row(str(p), f"{p.stat().st_size / 1e6:.2f} MB" if p.exists() else "missing")
    out.print(files)
