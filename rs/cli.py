"""The ``rs`` command: run pipelines, serve a local STAC API, make the demo world."""

from __future__ import annotations

import signal
import sys
import warnings
from pathlib import Path
from typing import TextIO

import click
from rich.console import Console
from rich.markup import escape

from rs import __version__
from rs._redact import redact
from rs.cli_change import train_change
from rs.cli_coast import transect_stats
from rs.cli_schedule import schedule
from rs.errors import RsError, RsWarning, exit_code_for

__all__ = ["main"]

# soft_wrap: a message is one line however long (cron logs, grep); a terminal wraps it itself
_err = Console(stderr=True, soft_wrap=True)
_out = Console(soft_wrap=True)


def _fail(e: RsError) -> None:
    _err.print(f"[bold red]error:[/] {escape(redact(str(e)))}")  # no secret in a log
    sys.exit(exit_code_for(e))


_show_other_warning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """rs's own warnings as one clean ``warning: ...`` line; others as Python shows them."""
    if issubclass(category, RsWarning):
        text = redact(" ".join(str(message).split()))  # one line, no secret in it
        _err.print(f"[bold yellow]warning:[/] {escape(text)}")
        return
    _show_other_warning(message, category, filename, lineno, file, line)


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
    "--dry-run",
    is_flag=True,
    help="Show the inputs found and the steps that would run; compute and write nothing.",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress output (for cron); errors still go to stderr."
)
def run(
    spec_path: Path,
    output: Path | None,
    scheduler: str | None,
    force: bool,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Run the pipeline described by the YAML file SPEC."""
    from rs._cli_report import print_result
    from rs.pipeline.progress import QuietReporter, RichReporter
    from rs.pipeline.runner import run_pipeline
    from rs.pipeline.spec import load_spec

    try:
        spec = load_spec(spec_path)
        if output is not None:
            spec = spec.model_copy(update={"output": output.expanduser().resolve()})
        reporter = QuietReporter() if quiet else RichReporter(_err)
        result = run_pipeline(
            spec,
            scheduler=scheduler,
            force=force,
            dry_run=dry_run,
            reporter=reporter,
            spec_path=spec_path.resolve(),
        )
    except RsError as e:
        _fail(e)
        return
    if not quiet or dry_run:
        print_result(_out, result)


@cli.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def serve(path: Path) -> None:
    """Serve STAC items and GeoTIFFs under PATH as a local STAC API until Ctrl-C.

    PATH is a STAC Item JSON file, a GeoTIFF whose name carries its date (YYYYMMDD) or whose
    TIFFTAG_DATETIME tag is set, or a folder of either. PATH is only read: the catalog files
    the API serves are written into rs's cache folder ($RS_CACHE_DIR).
    """
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


@cli.command()
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--to", "dsn", required=True, metavar="postgresql://USER:PASS@HOST:PORT/DB",
              envvar="RS_CATALOG_DSN", help="The pgstac database (or $RS_CATALOG_DSN).")
@click.option("--href-base", metavar="URL",
              help="Asset hrefs under this URL (the folder on a file server), not file://.")
@click.option("--migrate", is_flag=True, help="Install or upgrade pgstac in the database first.")
def publish(output: Path, dsn: str, href_base: str | None, migrate: bool) -> None:
    """Load the output items of OUTPUT into a shared STAC catalogue (pgstac), idempotently."""
    from rs.publish import publish as publish_output
    from rs.publish import redact_dsn

    try:
        results = publish_output(output, dsn, href_base=href_base, migrate=migrate)
    except RsError as e:
        _fail(e)
        return
    for r in results:
        _out.print(f"{r.collection}: {r.items} items ({r.new} new, {r.updated} updated, "
                   f"{r.unchanged} unchanged) in {escape(redact_dsn(dsn))}")


cli.add_command(transect_stats)
cli.add_command(train_change)
cli.add_command(schedule)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds context managers, so an embedded API or local cluster is stopped.
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    warnings.showwarning = _show_warning
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
