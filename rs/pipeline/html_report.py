"""The run report as one self-contained HTML page, next to the JSON report.

``reports/<pipeline>-<UTC time>.html`` (and ``<pipeline>-latest.html``) hold what the JSON
report holds, for a person: the run summary (pipeline, status, rs version, times, the error of a
failed run), the periods with their resolved dates, one row per step x period (status and
reason), the inputs skipped and used, the steps x periods not built (failed, empty, skipped)
with their reasons, and per step its outputs: a
small map of every raster (the product's quicklook PNG when it wrote one, else one drawn from
the COG by :func:`rs.export.quicklook.write_quicklook`) and the first rows of every table.

The page opens offline: images are ``data:`` URIs, the style is inline, there is no script and
no reference outside the file. Text from the report (reasons, ids, table cells) is escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rs.export._atomic import atomic_path

__all__ = ["MAP_SIZE", "TABLE_ROWS", "html_path", "render_html_report", "write_html_report"]

#: long side of an embedded map, pixels
MAP_SIZE = 360
#: rows shown of each output table
TABLE_ROWS = 8

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:2rem auto;max-width:1200px;color:#222;line-height:1.4;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #ddd;padding-bottom:.2rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
table{border-collapse:collapse;font-size:.82rem;margin:.4rem 0}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}figure{margin:.5rem 1rem .5rem 0;display:inline-block;vertical-align:top}
figure img{border:1px solid #eee;max-width:100%}figcaption{font-size:.8rem;color:#555}
.meta{color:#666;font-size:.85rem}.built{color:#1a7f37}.failed,.error{color:#b42318}
.skipped,.empty{color:#b54708}.up-to-date{color:#175cd3}.none{color:#666;font-style:italic}
"""


def html_path(json_report: Path) -> Path:
    """The HTML report beside the JSON report ``json_report``."""
    return Path(json_report).with_suffix(".html")


def write_html_report(out_dir: Path, json_report: Path, report: Mapping[str, Any]) -> Path:
    """Write the HTML page of ``report`` (the JSON report's content) beside ``json_report`` and
    as ``<pipeline>-latest.html``; returns the first path."""
    text = render_html_report(Path(out_dir), report)
    path = html_path(json_report)
    latest = path.with_name(f"{report['pipeline']}-latest.html")
    for target in (path, latest):
        with atomic_path(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return path


def render_html_report(out_dir: Path, report: Mapping[str, Any]) -> str:
    """The page of ``report``; output files are read from ``out_dir``."""
    e = html.escape
    title = f"rs run report: {report.get('pipeline', '?')}"
    status = str(report.get("status", "?"))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p class='meta'>status <b id='run-status' class='{e(status)}'>{e(status)}</b></p>",
        "<h2>Run</h2>",
        _kv_table(_summary(report), "summary"),
    ]
    if isinstance(err := report.get("error"), Mapping):
        parts += ["<h2>Error</h2>", _kv_table(err, "error")]
    parts += ["<h2>Periods</h2>", _periods(report.get("periods") or {})]
    steps = [s for s in report.get("steps") or [] if isinstance(s, Mapping)]
    parts += ["<h2>Steps x periods</h2>", _steps_table(steps)]
    parts += ["<h2>Inputs</h2>", *_inputs(steps)]
    parts += ["<h2>Outputs</h2>"]
    for s in steps:
        parts += _outputs(out_dir, s)
    if not steps:
        parts.append("<p class='none'>no step ran</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(r: Mapping[str, Any]) -> dict[str, Any]:
    spec = r.get("spec") if isinstance(r.get("spec"), Mapping) else {}
    out: dict[str, Any] = {
        "pipeline": r.get("pipeline"),
        "status": r.get("status"),
        "rs version": r.get("rs_version"),
        "started": r.get("started"),
        "finished": r.get("finished"),
        "AOI": (spec or {}).get("aoi"),
        "output": (spec or {}).get("output"),
    }
    for k, v in (r.get("timings_s") or {}).items():
        out[f"time {k.removesuffix('_s')} (s)"] = v
    lock = r.get("lock")
    if isinstance(lock, Mapping) and lock.get("stale"):
        out["took over a stale lock of"] = json.dumps(lock["stale"], default=str)
    return out


def _periods(periods: Mapping[str, Any]) -> str:
    rows = []
    for name, members in periods.items():
        for p in members if isinstance(members, list) else []:
            rule = p.get("relative")
            if rule:
                rule = f"{rule} as of {p.get('as_of')}"
            rows.append([name, p.get("label"), p.get("start"), p.get("end"), rule or ""])
    return _table(["period", "label", "start", "end", "rule"], rows, "periods")


def _steps_table(steps: Sequence[Mapping[str, Any]]) -> str:
    e = html.escape
    head = ["item", "step", "kind", "period", "status", "reason", "inputs found", "used",
            "skipped"]
    body = []
    for s in steps:
        st = str(s.get("status", ""))
        cells = [s.get("item_id"), s.get("step"), s.get("kind"), s.get("period")]
        row = "".join(f"<td>{e(_text(c))}</td>" for c in cells)
        row += f"<td class='{e(st)}'>{e(st)}</td><td>{e(_text(s.get('reason')))}</td>"
        row += "".join(f"<td>{n}</td>" for n in (
            int(s.get("scenes_found") or 0), len(s.get("scenes_used") or []),
            len(s.get("scenes_skipped") or [])))
        body.append(f"<tr data-item='{e(_text(s.get('item_id')))}'>{row}</tr>")
    return _wrap(head, body, "steps")


def _inputs(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    used = [[s.get("item_id"), i] for s in steps for i in s.get("scenes_used") or []]
    skipped = [
        [s.get("item_id"), r.get("scene"), r.get("asset"), r.get("status"), r.get("reason")]
        for s in steps for r in s.get("scenes_skipped") or [] if isinstance(r, Mapping)
    ]
    not_built = [[s.get("item_id"), s.get("status"), s.get("reason") or "see the error above"]
                 for s in steps if s.get("status") in ("failed", "empty", "skipped")]
    return [
        f"<h3>Skipped inputs ({len(skipped)})</h3>",
        _table(["item", "input", "asset", "status", "reason"], skipped, "skipped"),
        f"<h3>Steps x periods not built ({len(not_built)})</h3>",
        _table(["item", "status", "reason"], not_built, "not-built"),
        f"<details><summary>Used ({len(used)})</summary>",
        _table(["item", "input"], used, "used"),
        "</details>",
    ]


def _outputs(out_dir: Path, s: Mapping[str, Any]) -> list[str]:
    e = html.escape
    item_id = _text(s.get("item_id"))
    parts = [f"<h3 id='out-{e(item_id)}'>{e(item_id)} <span class='meta'>"
             f"{e(_text(s.get('status')))}</span></h3>"]
    item = _read_item(s.get("item_path"))
    assets = item.get("assets", {}) if item else {}
    if not assets:
        files = s.get("outputs") or []
        parts.append(_table(["file"], [[f] for f in files], "") if files
                     else "<p class='none'>no outputs</p>")
        return parts
    base = Path(out_dir) / "items"  # hrefs are relative to the items; nothing outside out_dir
    rasters = [(k, a) for k, a in assets.items() if str(a.get("type", "")).startswith(
        "image/tiff")]
    figures = []
    for k, a in rasters:
        png, note = _map_png(base, assets, k, a, first=k == rasters[0][0])
        title = a.get("title") or k
        if png is None:
            figures.append(f"<p class='none'>{e(k)}: no map ({e(note)})</p>")
            continue
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        figures.append(
            f"<figure class='map' data-asset='{e(k)}'><img alt='{e(k)}' src='{uri}'>"
            f"<figcaption>{e(str(title))} <span class='meta'>({e(note)})</span>"
            "</figcaption></figure>")
    parts += figures
    for k, a in assets.items():
        if k.endswith("_parquet"):
            parts.append(_table_preview(base, k, a))
    files = [[k, a.get("href"), a.get("type")] for k, a in assets.items()]
    parts += [f"<details><summary>{len(files)} file(s)</summary>",
              _table(["asset", "file", "type"], files, ""), "</details>"]
    return parts


def _read_item(path: Any) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        item = json.loads(Path(str(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return item if isinstance(item, dict) else None


def _inside(base: Path, href: str) -> Path | None:
    """The file ``href`` names relative to ``base`` if it lies in the output folder (the
    item's folder's parent): a report never reads a file elsewhere."""
    p = (base / href).resolve()
    root = base.resolve().parent
    return p if p.is_relative_to(root) and p.is_file() else None


def _map_png(base: Path, assets: Mapping[str, Any], key: str, a: Mapping[str, Any],
             *, first: bool) -> tuple[bytes | None, str]:
    """PNG bytes of raster asset ``key``: its quicklook (``<key>_thumbnail``; ``thumbnail`` for
    the item's first raster), shrunk to :data:`MAP_SIZE`, else drawn from the COG."""
    for qk in (f"{key}_thumbnail", f"{key}_quicklook", *(("thumbnail",) if first else ())):
        q = assets.get(qk)
        if q and str(q.get("type")) == "image/png" and (p := _inside(base, str(q["href"]))):
            try:
                return _shrunk(p.read_bytes()), "quicklook"
            except OSError:  # not a readable PNG: draw the map from the COG instead
                break
    cog = _inside(base, str(a.get("href", "")))
    if cog is None:
        return None, "file missing"
    from rasterio.errors import RasterioError

    from rs.export.quicklook import write_quicklook

    with tempfile.TemporaryDirectory(prefix="rs-report-") as tmp:
        png = Path(tmp) / "map.png"
        try:
            write_quicklook(cog, png, max_size=MAP_SIZE)
        except (RasterioError, ValueError, OSError) as err:
            return None, f"cannot draw: {err}"
        return png.read_bytes(), "drawn from band 1"


def _shrunk(png: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        if max(im.size) <= MAP_SIZE:
            return png
        im.thumbnail((MAP_SIZE, MAP_SIZE))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue()


def _table_preview(base: Path, key: str, a: Mapping[str, Any]) -> str:
    e = html.escape
    name = key.removesuffix("_parquet")
    head = f"<p><b>{e(name)}</b> <span class='meta'>({a.get('table:row_count', '?')} rows)</span>"
    path = _inside(base, str(a.get("href", "")))
    if path is None:
        return head + " <span class='none'>file missing</span></p>"
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        batch = next(pf.iter_batches(batch_size=TABLE_ROWS), None)
    except (OSError, pa.ArrowException) as err:
        return head + f" <span class='none'>unreadable: {e(str(err))}</span></p>"
    if batch is None:
        return head + "</p><p class='none'>no rows</p>"
    keep = [f.name for f in batch.schema if not pa.types.is_binary(f.type)
            and not pa.types.is_large_binary(f.type)]
    rows = batch.select(keep).to_pylist()
    return head + "</p>" + _table(keep, [[r[c] for c in keep] for r in rows],
                                  f"table-{name}", cls="preview")


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], table_id: str,
           cls: str = "") -> str:
    e = html.escape
    body = ["<tr>" + "".join(f"<td>{e(_text(c))}</td>" for c in r) + "</tr>" for r in rows]
    if not body:
        return "<p class='none'>none</p>"
    return _wrap(head, body, table_id, cls)


def _wrap(head: Sequence[str], body: Sequence[str], table_id: str, cls: str = "") -> str:
    e = html.escape
    attrs = (f" id='{e(table_id)}'" if table_id else "") + (f" class='{cls}'" if cls else "")
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    return f"<table{attrs}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kv_table(d: Mapping[str, Any], table_id: str) -> str:
    e = html.escape
    body = "".join(f"<tr><th>{e(str(k))}</th><td>{e(_text(v))}</td></tr>"
                   for k, v in d.items() if v is not None)
    return f"<table id='{table_id}'><tbody>{body}</tbody></table>"
