"""Report folders stay a bounded set: the newest REPORTS_KEEP_LATEST plus one a day for
REPORTS_KEEP_DAYS days, whatever the history; `latest` and folders being written are never
deleted; the reports folder's size; the two settings refused at start when malformed.

Folders are real folders on disk, written by the report job's own `write_folder` and
`point_latest` (a small file each, so months of reports every few minutes take seconds); the
job itself writes real reports in `test_the_report_job_*`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from metrics import jobs, retention
from metrics.reports.folders import (
    STAMP_FORMAT,
    latest_report,
    point_latest,
    prune_reports,
    reports_size_bytes,
    write_folder,
)
from metrics.reports.make import make_report_and_prune
from testing import manage_check

START = datetime(2025, 1, 1, tzinfo=UTC)


def write_report(reports_dir: Path, now: datetime, size: int = 10) -> Path:
    """A stand-in report of `size` bytes, written and pointed at as the job does."""
    folder = write_folder(reports_dir, now, lambda into: (into / "a.csv").write_bytes(b"x" * size))
    point_latest(reports_dir, folder)
    return folder


def stamp(moment: datetime) -> str:
    return moment.strftime(STAMP_FORMAT)


def kept(reports_dir: Path) -> set[str]:
    """The report folders on disk (not `latest`, not hidden folders)."""
    return {p.name for p in reports_dir.iterdir() if not p.is_symlink() and p.name[0] != "."}


def test_months_of_reports_keep_exactly_the_newest_and_one_a_day(tmp_path: Path) -> None:
    """A report every 20 minutes for 40 days, pruned after each as the job does: never more than
    KEEP_LATEST + KEEP_DAYS folders, and at the end exactly the newest 5 and each of the 7 days
    before today's last one."""
    keep_latest, keep_days = 5, 7
    moment, end = START, START + timedelta(days=40, hours=12)
    deleted = 0
    while moment <= end:
        write_report(tmp_path, moment)
        deleted += prune_reports(tmp_path, moment, keep_latest, keep_days)
        assert len(kept(tmp_path)) <= keep_latest + keep_days
        moment += timedelta(minutes=20)
    newest = {stamp(end - timedelta(minutes=20 * k)) for k in range(keep_latest)}
    last_of_days = {
        stamp(end.replace(hour=23, minute=40) - timedelta(days=d)) for d in range(1, keep_days + 1)
    }
    assert kept(tmp_path) == newest | last_of_days
    assert len(kept(tmp_path)) == keep_latest + keep_days
    written = 40 * 72 + 12 * 3 + 1
    assert deleted == written - (keep_latest + keep_days)
    assert latest_report(tmp_path) == tmp_path / stamp(end)


def test_latest_is_never_deleted_even_when_old(tmp_path: Path) -> None:
    """`latest` names a folder the rules would drop (pointed back by hand): it stays."""
    old = write_report(tmp_path, START)
    for day in range(1, 20):
        write_report(tmp_path, START + timedelta(days=day))
    point_latest(tmp_path, old)
    now = START + timedelta(days=19, hours=1)
    assert prune_reports(tmp_path, now, keep_latest=1, keep_days=2) == 20 - 4
    assert kept(tmp_path) == {old.name} | {stamp(START + timedelta(days=d)) for d in (17, 18, 19)}
    assert latest_report(tmp_path) == old


def test_reruns_in_one_second_sort_after_it_and_days_zero_keeps_only_the_newest(
    tmp_path: Path,
) -> None:
    """`<stamp>-10` is newer than `<stamp>-9` (not sorted as text); KEEP_DAYS=0: no daily ones."""
    for _ in range(12):
        write_report(tmp_path, START)  # <stamp>, <stamp>-1 ... <stamp>-11
    write_report(tmp_path, START - timedelta(days=1))  # then a folder from the day before
    point_latest(tmp_path, tmp_path / f"{stamp(START)}-11")
    assert prune_reports(tmp_path, START, keep_latest=2, keep_days=0) == 11
    assert kept(tmp_path) == {f"{stamp(START)}-10", f"{stamp(START)}-11"}


def test_folders_being_written_are_kept_and_abandoned_ones_deleted(tmp_path: Path) -> None:
    write_report(tmp_path, START)
    writing = tmp_path / f".tmp-{stamp(START)}-4242"
    (writing / "notebooks").mkdir(parents=True)
    abandoned = tmp_path / f".tmp-{stamp(START - timedelta(days=3))}-4343"
    abandoned.mkdir()
    os.utime(abandoned, (0, 0))
    assert prune_reports(tmp_path, START + timedelta(days=1), keep_latest=1, keep_days=0) == 0
    assert writing.is_dir() and not abandoned.exists()
    assert kept(tmp_path) == {stamp(START)}


@pytest.mark.django_db
def test_the_report_job_prunes_to_the_bound_and_says_how_many_it_deleted(
    tmp_path: Path, settings
) -> None:
    """The real job on a folder with 40 days of history: it writes a real report, keeps the bound
    and returns the number deleted; its str() is the folder, as the task and command print."""
    settings.REPORTS_KEEP_LATEST, settings.REPORTS_KEEP_DAYS = 3, 5
    now = START + timedelta(days=40, hours=12)
    for hours in range(6, 40 * 24, 6):  # four a day, the last at 06:00 today
        write_report(tmp_path, now - timedelta(hours=hours))
    run = make_report_and_prune(now=now, reports_dir=tmp_path, days=2)
    assert (run.folder / "manifest.json").is_file() and latest_report(tmp_path) == run.folder
    assert str(run) == str(run.folder)
    before_today = {
        stamp(now.replace(hour=18) - timedelta(days=d)) for d in range(1, 6)
    }  # each day's last, 18:00
    newest = {stamp(now), stamp(now - timedelta(hours=6)), stamp(now - timedelta(hours=12))}
    assert kept(tmp_path) == newest | before_today
    assert run.deleted == (40 * 4 - 1) - (len(newest) - 1) - len(before_today)


@pytest.mark.django_db
def test_the_job_through_its_lock_returns_the_folder_and_the_count(
    tmp_path: Path, settings
) -> None:
    """jobs.run_report (what beat's task and `manage.py make_report` call), at the real time:
    folders older than the days kept go, and are counted."""
    settings.REPORTS_KEEP_LATEST, settings.REPORTS_KEEP_DAYS = 1, 30
    for days in range(60, 100):
        write_report(tmp_path, timezone.now() - timedelta(days=days))
    run = jobs.run_report(reports_dir=str(tmp_path), days=2)
    assert run is not None and run.deleted == 40
    assert kept(tmp_path) == {run.folder.name}
    # Counted where every pruned row is (chatplatform_retention_deleted_total{table="reports"}).
    assert retention.deleted_totals()["reports"] == 40


def test_reports_size_counts_every_file_once(tmp_path: Path) -> None:
    """Reports, a render inside one, the published renders and a folder being written; the
    `latest` symlink adds nothing. Before the first report: 0."""
    assert reports_size_bytes(tmp_path / "nothing-yet") == 0
    first = write_report(tmp_path, START, size=1000)
    second = write_report(tmp_path, START + timedelta(days=1), size=2000)
    (second / "notebooks").mkdir()
    (second / "notebooks" / "activity.html").write_bytes(b"y" * 300)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "activity.html").write_bytes(b"y" * 300)
    (tmp_path / ".tmp-writing").mkdir()
    (tmp_path / ".tmp-writing" / "hourly.csv").write_bytes(b"z" * 45)
    assert reports_size_bytes(tmp_path) == 1000 + 2000 + 300 + 300 + 45
    assert prune_reports(tmp_path, START + timedelta(days=1), keep_latest=1, keep_days=0) == 1
    assert not first.exists()
    assert reports_size_bytes(tmp_path) == 2000 + 300 + 300 + 45


@pytest.mark.django_db
def test_reports_size_of_a_real_report_is_the_sum_of_its_files(tmp_path: Path, settings) -> None:
    settings.REPORTS_DIR = tmp_path
    run = make_report_and_prune(reports_dir=tmp_path, days=2)
    files = [p for p in run.folder.iterdir() if p.is_file()]
    assert len(files) > 10
    assert reports_size_bytes() == sum(p.stat().st_size for p in files)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REPORTS_KEEP_LATEST", "0"),
        ("REPORTS_KEEP_LATEST", "twelve"),
        ("REPORTS_KEEP_LATEST", "-3"),
        ("REPORTS_KEEP_DAYS", "-1"),
        ("REPORTS_KEEP_DAYS", "1.5"),
    ],
)
def test_a_malformed_bound_stops_the_process_at_start_naming_it(name: str, value: str) -> None:
    result = manage_check(**{name: value})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"django.core.exceptions.ImproperlyConfigured: {name} must ")


def test_the_smallest_bound_starts() -> None:
    """One report and no daily ones is a valid choice; an empty value means the default."""
    result = manage_check(REPORTS_KEEP_LATEST="1", REPORTS_KEEP_DAYS="0")
    assert result.returncode == 0, result.stderr
    assert manage_check(REPORTS_KEEP_LATEST="", REPORTS_KEEP_DAYS="").returncode == 0
