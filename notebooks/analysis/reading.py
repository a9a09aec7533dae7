"""Finding and reading a report: the folder, its manifest and tables, the range analysed.

Tables are read through metrics.reports.folders, the one reader of report tables, which imports
no models: a notebook kernel loads Django's settings (for REPORTS_DIR) and nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings

from metrics.reports.folders import LATEST, latest_report, load_table
from metrics.reports.transforms import utc
from metrics.timeutil import DAY


def reports_dir() -> Path:
    """REPORTS_DIR: from the environment when it is set there, without loading the platform's
    settings (compose's jupyter sets it and holds none of the secrets the settings refuse to
    load without when DEBUG is off); else from the settings (which also read .env). A notebook
    kernel has not set DJANGO_SETTINGS_MODULE, so this names the platform's settings."""
    if value := os.environ.get("REPORTS_DIR", "").strip():
        return Path(__file__).resolve().parents[2] / value  # relative: to the project, as there
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
    return Path(settings.REPORTS_DIR)


def resolve_report_dir(report_dir: str | Path | None = "") -> Path:
    """The report folder to analyse: the given one, or the one REPORTS_DIR/latest names.

    The `latest` symlink is resolved once, so a notebook reads one report even if the metrics
    job replaces `latest` while it runs.
    """
    path = Path(report_dir) if report_dir else latest_report(reports_dir())
    if path is None or not (path / "manifest.json").is_file():
        where = path or reports_dir() / LATEST
        raise FileNotFoundError(
            f"no report at {where}: run the report job first (manage.py make_report, "
            "or wait for beat)"
        )
    return path.resolve()


def load_manifest(report_dir: Path) -> dict[str, Any]:
    """The report's manifest.json: its range, and what its tables and charts are."""
    return json.loads((Path(report_dir) / "manifest.json").read_text())


def load_report(report_dir: Path, names: Iterable[str]) -> dict[str, pd.DataFrame]:
    """The named tables of a report (its manifest.json lists them all)."""
    return {name: load_table(report_dir, name) for name in names}


def analysis_range(
    manifest: dict[str, Any], start: str = "", end: str = ""
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The half-open UTC range `[start, end)` the notebook looks at.

    Empty strings mean the report's own range, up to where its counts are final
    (`range.partial_from`: the hour and day in progress are left out, see `partial_note`),
    or its whole range when nothing in it is final yet (a new platform). A date without a time
    as `end` includes that whole day (end="2025-01-31" covers January 31st). A `start` before
    the report's range is refused: the report's tables hold nothing before it.
    """
    report_range = manifest.get("range") or {}
    first = utc(start or report_range["start"])
    if end:
        last = utc(end)
        if len(end.strip()) == 10:  # a bare date: through the end of that day
            last += DAY
    else:
        last = utc(report_range["end"])
        partial_from = report_range.get("partial_from")
        if partial_from and first < utc(partial_from):
            last = utc(partial_from)
    if last <= first:
        raise ValueError(f"empty range: start {first} is not before end {last}")
    if start and first < utc(report_range["start"]):
        raise ValueError(
            f"start {first} is before the report's range (from {utc(report_range['start'])}): "
            "its tables hold nothing earlier; pick a later start, or a report written with a "
            "longer range (REPORTS_RANGE_DAYS)"
        )
    return first, last


@dataclass(frozen=True)
class BeforeRange:
    """What was created before the report's range and still exists (the manifest's
    `before_range`): the `users` and `chats` tables list only what the range holds, so a count
    "at the end of a day" is these plus the rows created from `start` to then."""

    start: pd.Timestamp | None  # the report's range start; None: the tables list every row
    users: int = 0
    chats: int = 0


def before_range(manifest: dict[str, Any]) -> BeforeRange:
    """The manifest's `before_range`. A report written before it existed (manifest version 1)
    listed every account and chat in its tables: nothing is before them."""
    counts = manifest.get("before_range")
    if counts is None:
        return BeforeRange(start=None)
    start = utc(manifest["range"]["start"])
    return BeforeRange(start=start, users=int(counts["users"]), chats=int(counts["chats"]))


def partial_note(manifest: dict[str, Any], end: pd.Timestamp) -> str:
    """A sentence for the notebook's header on the report's partial period (empty if none):
    its counts are the hour and day in progress, recomputed until they end, so the figures
    either leave it out or say it is included."""
    report_range = manifest.get("range") or {}
    if not report_range.get("partial_from"):
        return ""
    partial_from = utc(report_range["partial_from"])
    period = (
        f"Counts from {partial_from:%Y-%m-%d %H:%M} to {utc(report_range['end']):%Y-%m-%d %H:%M}"
        " UTC are **partial** (the hour and day in progress, recomputed every minute until they"
        " end)"
    )
    if end <= partial_from:
        return f"{period}: left out here (pass an `end` after it to include them)."
    return f"{period}: included here, so the last hour and day may still grow."


def demo_note(manifest: dict[str, Any]) -> str:
    """A sentence for the notebook's header when the report includes seed_demo's made-up
    history (the manifest's `demo`), empty on real data."""
    if not manifest.get("demo"):
        return ""
    return (
        " **Includes demo data:** the chats marked demo (admin: Chats, filter “is demo”) and"
        " their weeks of history were made up by `manage.py seed_demo`, not by real use."
    )
