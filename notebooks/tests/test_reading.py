"""Finding a report and the range a notebook analyses (notebooks/analysis/reading.py)."""

from __future__ import annotations

import pytest

from notebooks.analysis import reading

from .support import END, START, utc


def test_analysis_range_defaults_to_the_report_range_and_includes_a_bare_end_date() -> None:
    manifest = {"range": {"start": "2025-03-01T00:00:00+00:00", "end": "2025-03-31T12:00:00Z"}}
    assert reading.analysis_range(manifest) == (utc("2025-03-01"), utc("2025-03-31 12:00"))
    assert reading.analysis_range(manifest, "2025-03-03", "2025-03-10") == (START, END)
    assert reading.analysis_range(manifest, end="2025-03-10T06:00") == (
        utc("2025-03-01"),
        utc("2025-03-10 06:00"),
    )
    with pytest.raises(ValueError, match="empty range"):
        reading.analysis_range(manifest, "2025-03-10", "2025-03-09")


def test_a_start_before_the_report_is_refused() -> None:
    """The report's tables hold its range only: an earlier day would read as empty."""
    manifest = {"range": {"start": "2025-03-01T00:00:00+00:00", "end": "2025-03-31T12:00:00Z"}}
    with pytest.raises(ValueError, match=r"before the report's range .*\(REPORTS_RANGE_DAYS\)"):
        reading.analysis_range(manifest, "2025-02-28")


def test_before_range_reads_the_manifest_and_an_older_report_had_none() -> None:
    manifest = {
        "range": {"start": "2025-03-01T00:00:00+00:00", "end": "2025-03-31T12:00:00Z"},
        "before_range": {"users": 40, "chats": 7},
    }
    assert reading.before_range(manifest) == reading.BeforeRange(utc("2025-03-01"), 40, 7)
    del manifest["before_range"]  # version 1: its tables listed every account and chat
    assert reading.before_range(manifest) == reading.BeforeRange(None, 0, 0)


def in_progress(partial_from: str | None) -> dict:
    """A report of March made at 03-31 12:07, its counts partial from `partial_from`."""
    return {
        "range": {
            "start": "2025-03-01T00:00:00+00:00",
            "end": "2025-03-31T12:07:00+00:00",
            "partial_from": partial_from,
        }
    }


def test_by_default_the_partial_period_is_left_out_and_the_header_says_so() -> None:
    manifest = in_progress("2025-03-31T12:00:00+00:00")
    start_at, end_at = reading.analysis_range(manifest)
    assert (start_at, end_at) == (utc("2025-03-01"), utc("2025-03-31 12:00"))
    assert reading.partial_note(manifest, end_at) == (
        "Counts from 2025-03-31 12:00 to 2025-03-31 12:07 UTC are **partial** (the hour and day"
        " in progress, recomputed every minute until they end): left out here (pass an `end`"
        " after it to include them)."
    )
    _, asked = reading.analysis_range(manifest, end="2025-03-31")
    assert "included here" in reading.partial_note(manifest, asked)
    whole = in_progress(None)
    assert reading.analysis_range(whole)[1] == utc("2025-03-31 12:07")
    assert reading.partial_note(whole, utc("2025-03-31 12:07")) == ""


def test_the_demo_note_shows_only_for_a_report_that_includes_demo_data() -> None:
    assert "**Includes demo data:**" in reading.demo_note({"demo": True})
    assert reading.demo_note({"demo": False}) == ""
    assert reading.demo_note({}) == ""  # a report written before the field: real data


def test_a_report_with_nothing_final_yet_is_analysed_whole() -> None:
    """A new platform: all its counts are the hour in progress; the notebooks still run."""
    manifest = in_progress("2025-03-01T00:00:00+00:00")
    _, end_at = reading.analysis_range(manifest)
    assert end_at == utc("2025-03-31 12:07")
    assert "included here" in reading.partial_note(manifest, end_at)


def test_resolve_report_dir_follows_latest_and_explains_a_missing_report(tmp_path, settings):
    stamp = tmp_path / "20250310T120000Z"
    stamp.mkdir()
    (stamp / "manifest.json").write_text("{}")
    (tmp_path / "latest").symlink_to(stamp.name)
    settings.REPORTS_DIR = tmp_path
    assert reading.resolve_report_dir(str(stamp)) == stamp
    assert reading.resolve_report_dir("") == stamp  # empty: whatever REPORTS_DIR/latest names
    with pytest.raises(FileNotFoundError, match="no report at"):
        reading.resolve_report_dir(tmp_path / "nothing")
    settings.REPORTS_DIR = tmp_path / "empty"  # before the first report: no `latest` yet
    with pytest.raises(FileNotFoundError, match="empty/latest: run the report job"):
        reading.resolve_report_dir("")
