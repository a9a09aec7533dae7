"""The first look after `make up` is not blank: scripts/prepare.sh on an empty database (migrate,
seed_demo, fill_stats, make_report, render_notebooks) gives a report whose tables have rows and
whose charts are drawn from data, and notebooks whose figures and conclusions are about data.

prepare.sh runs from the repository with a private VAR_DIR (SQLite database, static files,
reports) and a Redis address nobody listens on, so a developer's state is never touched.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from testing import free_port, script_env

REPO = Path(__file__).resolve().parent.parent
DEMO_NOTE = "demo data"  # the report page's notice (manifest `demo`)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """VAR_DIR after prepare.sh's first run; its reports are in VAR_DIR/reports."""
    var_dir = tmp_path_factory.mktemp("var")
    env = script_env(var_dir)
    env["CENTRIFUGO_API_URL"] = f"http://127.0.0.1:{free_port()}/api"  # nobody listens
    result = subprocess.run(
        ["bash", "scripts/prepare.sh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"prepare.sh failed:\n{result.stdout}\n{result.stderr}"
    assert "Demo data created" in result.stdout
    assert "notebooks not rendered" not in result.stderr, result.stderr
    return var_dir


def drawn_from_data(path: Path) -> bool:
    """True when a chart shows data: many saturated pixels (lines, bars, cells) and many colours
    inside the plot area. An empty chart has only axes, grid and text (the hour-of-week
    heatmap: one uniform colour)."""
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    height, width, _ = pixels.shape
    saturated = int((pixels.max(axis=2) - pixels.min(axis=2) > 60).sum())
    plot = pixels[int(height * 0.12) : int(height * 0.85), int(width * 0.08) : int(width * 0.8)]
    colours = len(np.unique(plot.reshape(-1, 3), axis=0))
    return saturated > 2000 and colours > 40


def test_the_first_report_has_rows_and_charts_drawn_from_data(first_run: Path) -> None:
    report = (first_run / "reports" / "latest").resolve()
    manifest = json.loads((report / "manifest.json").read_text())
    rows = {name: info["rows"] for name, info in manifest["tables"].items()}
    for name in ("hourly", "daily", "chat_hourly", "chats", "users", "user_day_activity"):
        assert rows[name] > 10, rows
    assert rows["first_replies"] >= 10, rows
    assert manifest["charts"]
    blank = [name for name in manifest["charts"] if not drawn_from_data(report / name)]
    assert blank == []
    index = (report / "index.html").read_text()
    assert DEMO_NOTE in index.lower()
    assert "Coffee corner" in index  # a demo chat among the busiest of the last day


def markdown_outputs(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(
        output["data"]["text/markdown"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "text/markdown" in output.get("data", {})
    )


def test_the_first_notebooks_show_figures_and_conclusions_from_data(first_run: Path) -> None:
    rendered = (first_run / "reports" / "latest").resolve() / "notebooks"
    for name in ("activity", "engagement", "task_health"):
        notebook = nbformat.read(rendered / f"{name}.ipynb", as_version=4)
        images = sum(
            "image/png" in output.get("data", {})
            for cell in notebook.cells
            for output in cell.get("outputs", [])
        )
        assert images >= 2, name
        shown = markdown_outputs(notebook)
        assert not re.search(r"No [^.]* in the range", shown), shown
        assert "<img" in (rendered / f"{name}.html").read_text()
        # The notice is the rendered header's, shown because the report's data is the demo.
        assert "**Includes demo data:**" in shown, name
    engagement = nbformat.read(rendered / "engagement.ipynb", as_version=4)
    summary = json.loads("".join(o["text"] for o in engagement.cells[-1].outputs))
    assert len(summary["cohorts"]) >= 3
    assert summary["first_reply"]["replied"] >= 10
    health = nbformat.read(rendered / "task_health.ipynb", as_version=4)
    summary = json.loads("".join(o["text"] for o in health.cells[-1].outputs))
    assert summary["sent"] >= 50 and summary["failed"] >= 1, summary
    assert summary["latency_median_s"] is not None
