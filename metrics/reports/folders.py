"""The report folders on disk: stamps, writing one whole, the `latest` pointer, pruning, reading.

Layout (the contract other apps read, see docs/metrics.md):

    REPORTS_DIR/<%Y%m%dT%H%M%SZ>/{<table>.parquet,<table>.csv,*.png,index.html,manifest.json}
    REPORTS_DIR/latest -> <newest complete folder>

A report is written into a hidden temporary folder and renamed into place whole, then `latest`
is replaced by an atomic rename of a new symlink: a reader never sees a half-written report.
After each report the kept set is pruned to a bound that does not grow with history: the newest
REPORTS_KEEP_LATEST folders plus the newest of each of the REPORTS_KEEP_DAYS UTC days before today
(never the one `latest` names, never a `.tmp-*` folder still being written).

This module imports no models: the notebooks read reports through it, so a notebook kernel
loads Django's settings (for REPORTS_DIR) but never the app registry or a database.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings

logger = logging.getLogger(__name__)

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


def _stamp_order(name: str) -> tuple[str, int]:
    """Sort key of a report folder's name: its stamp, then the `-n` of a same-second rerun."""
    stamp, _, rerun = name.partition("-")
    return stamp, int(rerun or 0)


def reports_to_keep(
    names: Iterable[str], today: date, keep_latest: int, keep_days: int
) -> set[str]:
    """The report folders the retention keeps, of `names` (stamped folder names): the newest
    `keep_latest` (today's newest among them), plus the newest of each of the `keep_days` UTC
    days before `today` (0: none). At most keep_latest + keep_days names, whatever the history."""
    newest_first = sorted(names, key=_stamp_order, reverse=True)
    keep = set(newest_first[:keep_latest])
    first_day, last_day = today - timedelta(days=keep_days), today - timedelta(days=1)
    days_seen: set[date] = set()
    for name in newest_first:
        day = datetime.strptime(name[:8], "%Y%m%d").date()
        if first_day <= day <= last_day and day not in days_seen:
            days_seen.add(day)
            keep.add(name)
    return keep


def prune_reports(reports_dir: Path, now: datetime, keep_latest: int, keep_days: int) -> int:
    """Delete the report folders `reports_to_keep` does not keep (never the one `latest` names),
    and temporary folders a crashed run left; return how many report folders were deleted."""
    latest = latest_report(reports_dir)
    stamped: list[Path] = []
    for path in reports_dir.iterdir():
        if path.is_symlink() or not path.is_dir():
            continue
        if STAMP_RE.match(path.name):
            stamped.append(path)
        elif (
            path.name.startswith(".tmp-") and path.stat().st_mtime < time.time() - ABANDONED_SECONDS
        ):
            logger.info("deleting %s, left by a run that died mid-write", path.name)
            shutil.rmtree(path, ignore_errors=True)
    keep = reports_to_keep(
        (p.name for p in stamped), now.astimezone(UTC).date(), keep_latest, keep_days
    )
    deleted = 0
    for path in stamped:
        if path.name in keep or (latest is not None and path.resolve() == latest):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            deleted += 1
    return deleted


def reports_size_bytes(reports_dir: Path | str | None = None) -> int:
    """Bytes of every file under REPORTS_DIR (reports, notebook renders, temporary folders;
    symlinks not followed), 0 before the first report. One stat per file, and the files are
    bounded by the kept set (about 25 a report): cheap enough to measure every minute."""
    total = 0
    folders = [Path(reports_dir or settings.REPORTS_DIR)]
    while folders:
        try:
            entries = os.scandir(folders.pop())
        except FileNotFoundError:  # pruned while we walked
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
    return total
