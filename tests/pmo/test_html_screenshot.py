"""The HTML report of the demo organisation rendered in headless Chromium shows its charts.

Needs Debian's ``chromium`` (CI: ``apt-get install -y chromium``); fails, never skips, without it.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from collector.pmo.build import build_report
from collector.pmo.html_report import render_html
from tests.pmo.conftest import DEMO_END, DemoStore

WINDOW = (1400, 3000)


def screenshot(html: str, directory: Path, name: str) -> Image.Image:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` (the screenshot test needs it)")
    page = directory / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    png = directory / f"{name}.png"
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={directory / 'profile'}",
        f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri(),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert png.exists(), f"chromium wrote no screenshot (exit {completed.returncode}): {completed.stderr[-2000:]}"
    return Image.open(png).convert("RGB")


def coloured_rows(image: Image.Image) -> list[int]:
    """Per pixel row, how many pixels are clearly coloured (not white, not grey text)."""
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    counts = []
    for y in range(height):
        n = 0
        for x in range(0, width, 2):
            r, g, b = pixels[x, y]
            if max(r, g, b) - min(r, g, b) > 60:
                n += 1
        counts.append(n)
    return counts


def test_demo_report_renders_its_charts_in_chromium(demo_store: DemoStore, tmp_path: Path) -> None:
    report = build_report(
        demo_store.engine, demo_store.config, period="monthly", first=date(2026, 2, 1), until=DEMO_END, now=DEMO_END
    )
    with_charts = screenshot(render_html(report), tmp_path, "with-charts")
    without = screenshot(render_html(report, charts=False), tmp_path, "without-charts")
    assert with_charts.size == without.size == WINDOW
    rows_with, rows_without = coloured_rows(with_charts), coloured_rows(without)
    # chart pixels: coloured lines and level bars. The chart-less page has only small level badges.
    band_with = sum(1 for n in rows_with if n > 40)
    band_without = sum(1 for n in rows_without if n > 40)
    assert sum(rows_with) > 3 * sum(rows_without) + 5000, (sum(rows_with), sum(rows_without))
    assert band_with >= band_without + 300, (band_with, band_without)
