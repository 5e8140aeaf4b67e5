"""The ``rs`` command: run pipelines, serve a local STAC API, make the demo world."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from rs import __version__
from rs.errors import RsError, exit_code_for

__all__ = ["main"]

_err = Console(stderr=True)
_out = Console()


def _fail(e: RsError) -> None:
    _err.print(f"[bold red]error:[/] {e}")
    sys.exit(exit_code_for(e))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rs")
def cli() -> None:
    """Ecological monitoring products from satellite scenes."""


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="Output folder (overrides the spec's)."
)
@click.option("--scheduler", metavar="tcp://host:port", help="Run on this existing Dask cluster.")
@click.option("--force", is_flag=True, help="Rebuild even if the outputs are up to date.")
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress output (for cron); errors still go to stderr."
)
def run(
    spec_path: Path, output: Path | None, scheduler: str | None, force: bool, quiet: bool
) -> None:
    """Run the pipeline described by the YAML file SPEC."""
    from rs.pipeline.progress import QuietReporter, RichReporter
    from rs.pipeline.runner import run_pipeline
    from rs.pipeline.spec import load_spec

    try:
        spec = load_spec(spec_path)
        if output is not None:
            spec = spec.model_copy(update={"output": output.expanduser().resolve()})
        reporter = QuietReporter() if quiet else RichReporter(_err)
        result = run_pipeline(spec, scheduler=scheduler, force=force, reporter=reporter)
    except RsError as e:
        _fail(e)
        return
    if quiet:
        return
    _out.print(f"[bold green]{result.status}[/]: outputs in {result.output_dir}")
    if result.item_path:
        _out.print(f"STAC catalog: {result.output_dir / 'catalog.json'}")
    if result.report_path:
        _out.print(f"run report:   {result.report_path}")
    _out.print(f"scenes used: {len(result.scenes_used)}, skipped: {len(result.scenes_skipped)}")
    if result.layers:
        table = Table(
            title="layers over the AOI (valid_fraction: share of AOI pixels with a value)"
        )
        for col in ("layer", "valid_fraction", "mean", "min", "max"):
            table.add_column(col, justify="left" if col == "layer" else "right")
        for row in result.layers:
            table.add_row(
                *(
                    "" if row[c] is None else str(row[c])
                    for c in ("layer", "valid_fraction", "mean", "min", "max")
                )
            )
        _out.print(table)
    files = Table(title="files")
    files.add_column("file")
    files.add_column("size", justify="right")
    for p in result.files:
        files.add_row(str(p), f"{p.stat().st_size / 1e6:.2f} MB" if p.exists() else "missing")
    _out.print(files)


@cli.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def serve(path: Path) -> None:
    """Serve STAC items and GeoTIFFs under PATH as a local STAC API until Ctrl-C."""
    from rs.sources.local import serve_forever

    try:
        server = serve_forever(path)
    except RsError as e:
        _fail(e)
        return
    _out.print(f"STAC API at [bold]{server.url}[/] (Ctrl-C to stop)")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@cli.command("demo-world")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def demo_world(path: Path | None) -> None:
    """Generate the synthetic demo world (default: the rs cache folder) and print where it is."""
    from rs.pipeline.source import demo_world_root
    from rs.testing import generate_world

    root = path or demo_world_root()
    try:
        generate_world(root)
    except RsError as e:
        _fail(e)
        return
    _out.print(f"demo world in {root}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds context managers, so an embedded API or local cluster is stopped.
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
