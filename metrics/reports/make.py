"""The report job's entry points: `make_report` writes one report folder from the counts, and
`make_report_and_prune` (the job) then prunes the kept set to its bound.

The pieces: `tables` (DataFrames from the statistics), `charts` (PNGs), `index` (index.html),
`folders` (writing a folder whole, `latest`, pruning). Called every 5 minutes by beat through
metrics.jobs.run_report (which holds the lock), by `manage.py make_report`, and by tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.utils import timezone

from .charts import draw_charts
from .folders import point_latest, prune_reports, write_folder
from .index import render_index
from .tables import build_tables, counts_before, includes_demo, report_range
from .usertext import csv_safe

# 2: the `chats`, `users` and `first_replies` tables cover the range only, `before_range` counts
# what came before it, and `chats.messages_total` (ever) became `messages_in_range`.
MANIFEST_VERSION = 2


def _write_files(folder: Path, tables: dict[str, pd.DataFrame], manifest: dict[str, Any]) -> None:
    """Every file of a report: the tables (Parquet for programs, as stored; CSV for people and
    their spreadsheets, a cell that would start a formula quoted), the charts (one that fails
    is named in `chart_failures`, not fatal), index.html and last manifest.json, which lists
    what the others hold."""
    for name, table in tables.items():
        table.to_parquet(folder / f"{name}.parquet", index=False)
        csv_safe(table).to_csv(folder / f"{name}.csv", index=False)
        manifest["tables"][name] = {"rows": len(table), "columns": list(table.columns)}
    end = datetime.fromisoformat(manifest["range"]["end"])
    manifest["charts"], manifest["chart_failures"] = draw_charts(tables, end, folder)
    (folder / "index.html").write_text(render_index(manifest, tables), encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def make_report(
    now: datetime | None = None,
    reports_dir: Path | str | None = None,
    days: int | None = None,
) -> Path:
    """Write one complete report folder and point `latest` at it; return it."""
    now = (now or timezone.now()).astimezone(UTC)
    reports_dir = Path(reports_dir or settings.REPORTS_DIR)
    reports_dir.mkdir(parents=True, exist_ok=True)
    span = report_range(now, days or settings.REPORTS_RANGE_DAYS)
    tables = build_tables(span)
    manifest: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "generated_at": now.isoformat(),
        "range": span.manifest(),  # start, end, partial_from (where final counts end, or null)
        # Accounts and chats created before range.start that still exist: not in the tables.
        "before_range": counts_before(span.start),
        "demo": includes_demo(),  # seed_demo's chats exist: the notebooks say so
        "tables": {},
        "charts": [],
        "chart_failures": {},  # chart file: the error that kept it from being drawn
    }
    folder = write_folder(reports_dir, now, lambda into: _write_files(into, tables, manifest))
    point_latest(reports_dir, folder)
    return folder


@dataclass(frozen=True)
class ReportRun:
    """What one run of the report job did. It reads as the folder's path (str(), os.fspath()),
    which is what the job returned before it counted the pruning: the task's result and
    `manage.py make_report`'s output stay the path."""

    folder: Path
    deleted: int  # report folders pruned by this run

    def __str__(self) -> str:
        return str(self.folder)

    def __fspath__(self) -> str:
        return str(self.folder)


def make_report_and_prune(
    now: datetime | None = None,
    reports_dir: Path | str | None = None,
    days: int | None = None,
) -> ReportRun:
    """The report job: write a report, then prune the folders to REPORTS_KEEP_LATEST plus one
    a day for REPORTS_KEEP_DAYS (never the new one, which `latest` names)."""
    now = (now or timezone.now()).astimezone(UTC)
    folder = make_report(now=now, reports_dir=reports_dir, days=days)
    deleted = prune_reports(
        folder.parent, now, settings.REPORTS_KEEP_LATEST, settings.REPORTS_KEEP_DAYS
    )
    return ReportRun(folder=folder, deleted=deleted)
