"""The report folder: expected files, real PNGs, tables that match the counts, latest, pruning."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import matplotlib.image
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from chats import services
from chats.emails import digest
from chats.models import Role
from metrics import fill
from metrics.reports.folders import latest_report, load_table
from metrics.reports.make import make_report, make_report_and_prune
from metrics.reports.tables import notifications_table

from .support import T0, Activity, at, hm

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The report contract (docs/metrics.md), written out here so that a change to it fails a test.
TABLES = [
    "hourly",
    "chat_hourly",
    "daily",
    "chats",
    "users",
    "user_day_activity",
    "first_replies",
    "notifications",
]
CHARTS = ["messages_per_hour.png", "active_users.png", "busiest_chats.png", "hour_of_week.png"]
NOW = at(48) + timedelta(minutes=7)
# Every timestamp column of the Parquet files, one type whether or not the table has rows.
TIMESTAMPS = [
    ("hourly", "hour"),
    ("chat_hourly", "hour"),
    ("chats", "created_at"),
    ("users", "date_joined"),
    ("first_replies", "first_message_at"),
    ("first_replies", "first_reply_at"),
    ("notifications", "created_at"),
    ("notifications", "done_at"),
]
UTC_MICROSECONDS = pa.timestamp("us", tz="UTC")


@pytest.fixture
def report(activity: Activity, tmp_path: Path) -> Path:
    fill.fill_activity_counts(until=NOW)
    return make_report(now=NOW, reports_dir=tmp_path, days=3)


def test_report_folder_has_every_file_and_real_images(report: Path, tmp_path: Path) -> None:
    assert report.name == "20250305T000700Z"
    expected = {f"{t}.{ext}" for t in TABLES for ext in ("parquet", "csv")}
    expected |= set(CHARTS) | {"index.html", "manifest.json"}
    assert {p.name for p in report.iterdir()} == expected
    for chart in CHARTS:
        data = (report / chart).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        height, width, _ = matplotlib.image.imread(report / chart).shape
        assert width >= 600 and height >= 300
    assert (tmp_path / "latest").is_symlink()
    assert latest_report(tmp_path) == report
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    html = (report / "index.html").read_text()
    assert "Alpha" in html and 'src="messages_per_hour.png"' in html


def test_manifest_and_tables_match_the_counts(report: Path, activity: Activity) -> None:
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["version"] == 2
    assert manifest["range"] == {  # up to now; hour 48 (and day 2) are in progress
        "start": (T0 - timedelta(days=1)).isoformat(),
        "end": NOW.isoformat(),
        "partial_from": at(48).isoformat(),
    }
    assert manifest["before_range"] == {"users": 1, "chats": 0}  # alice joined at T0 - 2 days
    assert manifest["charts"] == CHARTS
    assert list(manifest["tables"]) == TABLES
    hourly = load_table(report, "hourly")
    columns = ["hour", "stat", "value", "partial"]
    assert list(hourly.columns) == columns
    assert manifest["tables"]["hourly"] == {"rows": 73 * 7, "columns": columns}
    assert set(hourly.loc[hourly["partial"], "hour"]) == {pd.Timestamp(at(48))}
    assert list(hourly["stat"].unique()) == [  # every hourly total of metrics.stats, in order
        "messages_sent",
        "active_users",
        "active_chats",
        "new_users",
        "joins",
        "leaves",
        "chats_created",
    ]
    sent = hourly[hourly["stat"] == "messages_sent"].set_index("hour")["value"]
    assert sent[pd.Timestamp(hm(26, 0))] == 3 and sent[pd.Timestamp(hm(2, 0))] == 0
    assert sent.sum() == 7

    daily = load_table(report, "daily")
    as_dict = {(row.day, row.stat): (row.value, row.partial) for row in daily.itertuples()}
    assert as_dict[(date(2025, 3, 4), "active_users_7d")] == (3, False)
    assert as_dict[(date(2025, 3, 3), "messages_sent")] == (4, False)
    assert as_dict[(date(2025, 3, 2), "new_users")] == (0, False)
    assert as_dict[(date(2025, 3, 5), "active_users_7d")] == (3, True)  # today, so far
    assert as_dict[(date(2025, 3, 5), "messages_sent")] == (0, True)
    assert as_dict[(date(2025, 3, 5), "active_users_1d")] == (0, True)  # nobody yet
    assert set(daily.loc[daily["partial"], "day"]) == {date(2025, 3, 5)}

    chats = load_table(report, "chats").set_index("chat_id")
    assert list(chats.columns) == [
        "title",
        "created_at",
        "members",
        "messages_last_day",
        "messages_in_range",
    ]
    assert chats.loc[activity.chat_a.pk, "messages_in_range"] == 5
    assert chats.loc[activity.chat_a.pk, "members"] == 0  # bulk-created events, no memberships
    assert chats.loc[activity.chat_b.pk, "messages_last_day"] == 2
    assert chats.loc[activity.chat_b.pk, "title"] == "Beta"

    first = load_table(report, "first_replies").set_index("chat_id")
    assert first.loc[activity.chat_a.pk, "first_reply_at"] == pd.Timestamp(hm(1, 40))
    users = load_table(report, "users")  # who joined in the range: bob and carol, not alice
    assert users["user_id"].tolist() == [activity.bob.pk, activity.carol.pk]
    html = (report / "index.html").read_text()
    assert "<th>Users</th><td>3</td>" in html and "<th>Chats</th><td>2</td>" in html
    days = load_table(report, "user_day_activity")
    assert days["messages"].sum() == 7
    assert list(load_table(report, "notifications").columns) == [
        "notification_id",
        "event",
        "status",
        "attempts",
        "created_at",
        "done_at",
        "last_error",
    ]
    csv = pd.read_csv(report / "chat_hourly.csv")
    assert csv["messages"].sum() == 7


def parquet_timestamps(folder: Path) -> dict[tuple[str, str], pa.DataType]:
    """The Arrow type of every timestamp column in a report's Parquet files."""
    return {
        (table, field.name): field.type
        for table in TABLES
        for field in pq.read_schema(folder / f"{table}.parquet")
        if pa.types.is_timestamp(field.type)
    }


def test_parquet_timestamps_are_utc_microseconds_with_or_without_rows(report: Path) -> None:
    """pandas 3 infers a datetime column's unit from its values: an empty or all-null column
    (here `notifications`, which has no rows) must not get another type than a full one."""
    assert parquet_timestamps(report) == dict.fromkeys(TIMESTAMPS, UTC_MICROSECONDS)


@pytest.mark.django_db
def test_a_fresh_platform_report_has_the_same_timestamp_types(tmp_path: Path) -> None:
    empty = make_report(now=NOW, reports_dir=tmp_path, days=3)
    assert parquet_timestamps(empty) == dict.fromkeys(TIMESTAMPS, UTC_MICROSECONDS)


def test_latest_moves_and_old_reports_are_pruned(report: Path, tmp_path: Path, settings) -> None:
    """The report job keeps the newest report and one a day for REPORTS_KEEP_DAYS days (the
    bound itself: test_report_retention)."""
    settings.REPORTS_KEEP_LATEST, settings.REPORTS_KEEP_DAYS = 1, 7
    later = make_report_and_prune(now=NOW + timedelta(days=2), reports_dir=tmp_path)
    assert latest_report(tmp_path) == later.folder and report.exists() and later.deleted == 0
    stale = tmp_path / ".tmp-20250101T000000Z-1"
    stale.mkdir()
    os.utime(stale, (0, 0))
    newest = make_report_and_prune(now=NOW + timedelta(days=9), reports_dir=tmp_path)
    assert latest_report(tmp_path) == newest.folder
    assert not report.exists()  # its day is 9 days back
    assert later.folder.exists()  # its day is 7 days back: kept
    assert newest.deleted == 1
    assert not stale.exists()
    settings.REPORTS_DIR = tmp_path
    assert load_table(None, "chats").equals(load_table(newest.folder, "chats"))


def test_two_reports_in_the_same_second_do_not_collide(report: Path, tmp_path: Path) -> None:
    again = make_report(now=NOW, reports_dir=tmp_path, days=3)
    assert again.name == f"{report.name}-1"
    assert latest_report(tmp_path) == again


def test_make_report_command(activity: Activity, tmp_path: Path, capsys) -> None:
    call_command("make_report", dir=str(tmp_path), days=2)
    folder = Path(capsys.readouterr().out.strip())
    assert folder.parent == tmp_path and (folder / "manifest.json").exists()


def test_index_page_escapes_what_users_typed(report: Path, activity: Activity) -> None:
    """Chat titles are user input: the page shows them as text, never as markup."""
    activity.chat_a.title = "<script>alert('x')</script> & \"friends\""
    activity.chat_a.save()
    again = make_report(now=NOW, reports_dir=report.parent, days=3)
    html = (again / "index.html").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;friends&quot;" in html


@pytest.mark.django_db
def test_events_held_by_the_email_cap_are_not_emails_of_their_own(settings, make_user) -> None:
    """The notifications table lists emails: a digest, not each event it carries (chats.digest)."""
    settings.EMAIL_RECIPIENT_LIMIT = "1/hour"
    owner, admin = make_user(), make_user()
    chat = services.create_chat(title="Flood", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    for _ in range(3):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=make_user().pk)
    settings.EMAIL_RECIPIENT_LIMIT = "2/hour"
    digest.build_digests()

    table = notifications_table(T0 - timedelta(days=3650))
    assert sorted(table["event"]) == ["digest", "member_added"]
