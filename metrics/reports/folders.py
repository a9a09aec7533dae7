"""The report folders on disk: stamps, writing one whole, the `latest` pointer, pruning, reading.

Layout (the contract other apps read, see docs/metrics.md):

    REPORTS_DIR/<%Y%m%dT%H%M%SZ>/{<table>.parquet,<table>.csv,*.png,index.html,manifest.json}
    REPORTS_DIR/latest -> <newest complete folder>

A report is written into a hidden temporary folder and renamed into place whole, then `latest`
is replaced by an atomic rename of a new symlink: a reader never sees a half-written report.
Reports older than the retention are pruned (never the one `latest` names).

This module imports no models: the notebooks read reports through it, so a notebook kernel
loads Django's settings (for REPORTS_DIR) but never the app registry or a database.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings

LATEST = "latest"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
STAMP_RE = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
ABANDONED_SECONDS = 3600  # a temporary folder this old belongs to a run that died mid-write


def latest_report(reports_dir: Path | str | None = None) -> Path | None:
    """The folder `latest` names (resolved), or None before the first report."""
    link = Path(reports_dir or settings.REPORTS_DIR) / LATEST
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def load_table(report_dir: Path | str | None, name: str) -> pd.DataFrame:
    """Read one table of a report (None: the latest) from its Parquet file: the one reader."""
    folder = Path(report_dir) if report_dir is not None else latest_report()
    if folder is None:
        raise FileNotFoundError("no report has been written yet")
    return pd.read_parquet(folder / f"{name}.parquet")


def write_folder(reports_dir: Path, now: datetime, write: Callable[[Path], None]) -> Path:
    """Have `write` fill a hidden temporary folder, then rename it to `<stamp of now>` whole.

    Two reports in the same second get `<stamp>-1`, `<stamp>-2`...: the rename fails on an
    existing folder instead of merging into it. A failed write leaves nothing behind.
    """
    stamp = now.strftime(STAMP_FORMAT)
    temporary = reports_dir / f".tmp-{stamp}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        write(temporary)
        folder, n = reports_dir / stamp, 0
        while True:
            try:
                temporary.rename(folder)  # fails if the folder exists (same second): next name
                return folder
            except OSError:
                if not folder.exists():
                    raise
                n += 1
                folder = reports_dir / f"{stamp}-{n}"
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def point_latest(reports_dir: Path, folder: Path) -> None:
    """Replace the `latest` symlink atomically (a new link renamed over the old one)."""
    temporary = reports_dir / f".{LATEST}-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(folder.name)  # relative: the folder can move with its parent
    os.replace(temporary, reports_dir / LATEST)


def prune_reports(reports_dir: Path, now: datetime, retention_days: int) -> list[str]:
    """Delete report folders older than the retention, and abandoned temporary folders."""
    keep = latest_report(reports_dir)
    cutoff = now - timedelta(days=retention_days)
    removed = []
    for path in reports_dir.iterdir():
        if path.is_symlink() or not path.is_dir() or (keep is not None and path.resolve() == keep):
            continue
        if STAMP_RE.match(path.name):
            stamp = datetime.strptime(path.name[:16], STAMP_FORMAT).replace(tzinfo=UTC)
            if stamp < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        elif (
            path.name.startswith(".tmp-") and path.stat().st_mtime < time.time() - ABANDONED_SECONDS
        ):
            shutil.rmtree(path, ignore_errors=True)  # a run that died mid-write
            removed.append(path.name)
    return sorted(removed)
