"""Validation plots (rs.stations.plots) and the self-contained HTML report
(rs.stations.report), the report checked in a real headless Chromium: it renders offline,
every image loads (naturalWidth > 0), the statistics tables are there.

The browser: playwright's own Chromium when ``python -m playwright install chromium`` could
fetch it, else a system Chromium (Debian: ``apt-get install chromium``) found on PATH or named
by $RS_CHROMIUM; without either (or without the playwright package) the browser test is
skipped, saying so."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rs.stations.matchup import MatchupParams, Matchups, match
from rs.stations.plots import map_png, scatter_png, timeseries_png
from rs.stations.report import (
    Figure,
    external_references,
    render_report,
    validation_report,
    write_report,
)
from rs.stations.stats import summary_table
from rs.testing.stations import SyntheticNetwork, synthetic_network

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def net() -> SyntheticNetwork:
    return synthetic_network()


@pytest.fixture(scope="module")
def matchups(net: SyntheticNetwork) -> Matchups:
    return match(net.rasters, net.stations, net.observations,
                 MatchupParams(variable="no2", qa_min=0.5))


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as im:
        im.verify()
    with Image.open(io.BytesIO(png)) as im:
        return im.size


def test_plots_are_pngs_and_deterministic(net: SyntheticNetwork, matchups: Matchups) -> None:
    t = matchups.table[matchups.table["usable"]]
    sc = scatter_png(t["ground_value"], t["ground_value"] * 0.9 + 2)
    assert sc.startswith(PNG) and _size(sc) == (605, 550)
    assert scatter_png(t["ground_value"], t["ground_value"] * 0.9 + 2) == sc
    ts = timeseries_png(matchups.table, max_stations=3, twin=True)
    assert ts.startswith(PNG) and _size(ts)[1] > _size(timeseries_png(
        matchups.table, max_stations=1))[1]
    per = summary_table(matchups.table, reference="sat_value", estimate="ground_value")
    per = per[per["level"] == "station"].merge(net.stations, left_on="group",
                                               right_on="station_id")
    mp = map_png(per, "bias", background=net.rasters[0])
    assert mp.startswith(PNG) and min(_size(mp)) > 300
    # degenerate inputs still draw
    assert scatter_png([], []).startswith(PNG)
    assert scatter_png([1.0], [2.0]).startswith(PNG)
    assert map_png(per.assign(bias=np.nan), "bias").startswith(PNG)
    assert timeseries_png(matchups.table.assign(usable=False)).startswith(PNG)


def test_report_html_is_self_contained(matchups: Matchups, tmp_path: Path) -> None:
    html, summary = validation_report(matchups, region="region", n_boot=50,
                                      generated="2026-01-01 00:00 UTC")
    assert external_references(html) == []
    assert html.count('src="data:image/png;base64,') == 3
    for table_id in ("parameters", "stats-overall", "stats-region", "stats-station", "reported"):
        assert f'id="{table_id}"' in html
    assert "<script" not in html.lower()
    assert "different quantities" in html  # a column against a concentration: said so
    overall = summary[summary["level"] == "overall"].iloc[0]
    assert f"<td>{int(overall['n'])}</td>" in html
    p = write_report(html, tmp_path / "report.html")
    assert p.read_text(encoding="utf-8") == html
    assert [x.name for x in tmp_path.iterdir()] == ["report.html"]  # no temporary left
    # the finder sees every kind of outside reference
    bad = ('<img src="http://x/a.png"><link href="style.css"><div style="background:'
           'url(https://x/b.png)"></div><style>@import "c.css";</style><a href="#top">')
    assert external_references(bad) == ["http://x/a.png", "style.css", "https://x/b.png",
                                        "c.css"]


def test_report_escapes_text_and_refuses_non_png() -> None:
    summary = pd.DataFrame({"level": ["overall"], "group": ["<all>"], "n": [3], "bias": [0.5]})
    html = render_report(title="a <b> & c", summary=summary,
                         reported=pd.DataFrame({"station_id": ["<x>"], "problem": ["p"]}))
    assert "<title>a &lt;b&gt; &amp; c</title>" in html and "&lt;x&gt;" in html
    assert "<td>&lt;all&gt;</td>" in html
    with pytest.raises(ValueError, match="not a PNG"):
        render_report(title="t", summary=summary, figures=[Figure("f", b"GIF89a")])


# --- the real browser ---------------------------------------------------------------------------


def test_report_renders_offline_in_a_headless_browser(
    browser: Any, matchups: Matchups, tmp_path: Path
) -> None:
    html, summary = validation_report(matchups, region="region", n_boot=50,
                                      title="Synthetic NO2 validation")
    path = write_report(html, tmp_path / "report.html")
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    assert page.title() == "Synthetic NO2 validation"
    images = page.evaluate(
        "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth,"
        " i.naturalHeight])")
    assert [i[0] for i in images] == ["Scatter", "Time series", "Map of the bias"]
    assert all(complete and w > 0 and h > 0 for _, complete, w, h in images)
    overall = page.evaluate(
        "Array.from(document.querySelectorAll('#stats-overall th')).map(c => c.textContent)")
    assert overall[:2] == ["group", "n"] and {"bias", "rmse", "r"} <= set(overall)
    rows = page.evaluate("document.querySelectorAll('#stats-station tbody tr').length")
    assert rows == int((summary["level"] == "station").sum()) == 300
    n_text = page.evaluate("document.querySelector('#stats-overall tbody td:nth-child(2)')"
                           ".textContent")
    assert n_text == str(int(summary.iloc[0]["n"]))
    # nothing was fetched but the file itself (an offline context fails any other request)
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    shot = page.screenshot(full_page=True)
    assert _size(shot)[1] > 2000
    (tmp_path / "report.png").write_bytes(shot)
    context.close()


def test_a_broken_image_would_be_seen(browser: Any, tmp_path: Path) -> None:
    """The check above can fail: an image whose data is not a PNG has naturalWidth 0."""
    summary = pd.DataFrame({"level": ["overall"], "group": ["all"], "n": [1]})
    html = render_report(title="t", summary=summary, figures=[Figure("ok", scatter_png(
        [1.0, 2.0], [1.0, 2.5]))])
    broken = re.sub(r"base64,[A-Za-z0-9+/=]{40}", "base64,AAAA", html, count=1)
    path = write_report(broken, tmp_path / "broken.html")
    page = browser.new_page()
    page.goto(path.as_uri(), wait_until="load")
    assert page.evaluate("Array.from(document.images).map(i => i.naturalWidth)") == [0]
    page.close()
