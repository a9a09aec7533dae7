"""Unit tests of notebooks/analysis.py on small tables whose answers are worked out by hand;
fetch_live_stats against the real /api/stats/ (live server, real Redis)."""

from __future__ import annotations

import json
import math
import urllib.error

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from metrics import snapshot
from notebooks import analysis as a

T = pd.Timestamp


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# Monday 2025-03-03 .. Monday 2025-03-10 inclusive: 8 days.
START, END = utc("2025-03-03"), utc("2025-03-11")


@pytest.fixture
def hourly() -> pd.DataFrame:
    rows = [
        ("2025-03-03 09:00", "messages_sent", 4),  # Monday 09h
        ("2025-03-03 10:00", "messages_sent", 1),
        ("2025-03-04 09:00", "messages_sent", 2),  # Tuesday 09h
        ("2025-03-10 09:00", "messages_sent", 3),  # Monday 09h again
        ("2025-03-02 09:00", "messages_sent", 50),  # before the range
        ("2025-03-03 09:00", "active_users", 99),  # another statistic: ignored
    ]
    return pd.DataFrame(
        {
            "hour": [T(h) for h, _, _ in rows],  # naive, as UTC
            "stat": [s for _, s, _ in rows],
            "value": [v for _, _, v in rows],
        }
    )


def test_analysis_range_defaults_to_the_report_range_and_includes_a_bare_end_date() -> None:
    manifest = {"range": {"start": "2025-03-01T00:00:00+00:00", "end": "2025-03-31T12:00:00Z"}}
    assert a.analysis_range(manifest) == (utc("2025-03-01"), utc("2025-03-31 12:00"))
    assert a.analysis_range(manifest, "2025-03-03", "2025-03-10") == (START, END)
    assert a.analysis_range(manifest, end="2025-03-10T06:00") == (
        utc("2025-03-01"),
        utc("2025-03-10 06:00"),
    )
    with pytest.raises(ValueError, match="empty range"):
        a.analysis_range(manifest, "2025-03-10", "2025-03-09")


def test_resolve_report_dir_follows_latest_and_explains_a_missing_report(tmp_path, settings):
    stamp = tmp_path / "20250310T120000Z"
    stamp.mkdir()
    (stamp / "manifest.json").write_text("{}")
    (tmp_path / "latest").symlink_to(stamp.name)
    settings.REPORTS_DIR = tmp_path
    assert a.resolve_report_dir(str(stamp)) == stamp
    assert a.resolve_report_dir("") == stamp  # empty: whatever REPORTS_DIR/latest names
    with pytest.raises(FileNotFoundError, match="no report at"):
        a.resolve_report_dir(tmp_path / "nothing")
    settings.REPORTS_DIR = tmp_path / "empty"  # before the first report: no `latest` yet
    with pytest.raises(FileNotFoundError, match="empty/latest: run the report job"):
        a.resolve_report_dir("")


def test_messages_per_day_fills_quiet_days_with_zero(hourly: pd.DataFrame) -> None:
    per_day = a.messages_per_day(hourly, START, END)
    assert list(per_day.index) == list(pd.date_range(START, periods=8, freq="D"))
    assert per_day.tolist() == [5, 2, 0, 0, 0, 0, 0, 3]


def test_messages_per_hour_of_day_and_hour_of_week(hourly: pd.DataFrame) -> None:
    by_hour = a.messages_per_hour_of_day(hourly, START, END)
    assert len(by_hour) == 24 and by_hour[9] == 9 and by_hour[10] == 1 and by_hour.sum() == 10
    grid = a.hour_of_week(hourly, START, END)
    assert grid.shape == (7, 24)
    assert grid.loc["Mon", 9] == 7 and grid.loc["Mon", 10] == 1 and grid.loc["Tue", 9] == 2
    assert grid.to_numpy().sum() == 10
    assert a.peak_hour_of_week(grid) == {"weekday": "Mon", "hour": 9, "messages": 7}
    assert a.peak_hour_of_week(grid * 0) is None


def test_active_users_pivot_and_stickiness() -> None:
    daily = pd.DataFrame(
        {
            "day": [T("2025-03-03").date()] * 3 + [T("2025-03-04").date()] * 3,
            "stat": ["active_users_1d", "active_users_7d", "active_users_30d"] * 2,
            "value": [2, 2, 2, 1, 3, 4],
        }
    )
    table = a.active_users(daily, START, END)
    assert table.loc[utc("2025-03-03"), ["dau", "wau", "mau"]].tolist() == [2, 2, 2]
    assert table.loc[utc("2025-03-04"), "stickiness"] == pytest.approx(0.25)
    assert table.loc[utc("2025-03-03"), "stickiness"] == 1.0
    # The report writes zeros for computed days; a day without rows is not computed yet.
    assert table.index.tolist() == [utc("2025-03-03"), utc("2025-03-04")]
    zeros = daily.assign(day=T("2025-03-05").date(), value=0)
    table = a.active_users(pd.concat([daily, zeros]), START, END)
    assert table.loc[utc("2025-03-05"), ["dau", "wau", "mau"]].tolist() == [0, 0, 0]
    assert math.isnan(table.loc[utc("2025-03-05"), "stickiness"])  # undefined, not 0


def test_busiest_chats_in_range_with_titles_ties_and_deleted_chats() -> None:
    chat_hourly = pd.DataFrame(
        {
            "hour": [
                T(h)
                for h in (
                    "2025-03-03 09",
                    "2025-03-04 10",
                    "2025-03-03 11",
                    "2025-03-05 12",
                    "2025-03-01 00",
                )
            ],
            "chat_id": [1, 1, 2, 3, 2],
            "messages": [2, 1, 3, 3, 100],
        }
    )
    chats = pd.DataFrame({"chat_id": [1, 2], "title": ["General", "Random"]})
    top = a.busiest_chats(chat_hourly, chats, START, END, n=2)
    assert top.to_dict(orient="records") == [
        {"chat_id": 1, "title": "General", "messages": 3},
        {"chat_id": 2, "title": "Random", "messages": 3},
    ]
    third = a.busiest_chats(chat_hourly, chats, START, END, n=3).iloc[2]
    assert (third["chat_id"], third["title"]) == (3, "(deleted chat)")


def test_growth_counts_what_exists_at_the_end_of_each_day() -> None:
    users = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "date_joined": [utc("2025-02-01"), utc("2025-03-03 23:59"), utc("2025-03-05 00:00")],
        }
    )
    chats = pd.DataFrame({"chat_id": [1], "created_at": [utc("2025-03-04 12:00")]})
    grown = a.growth(users, chats, START, END)
    assert grown["users"].tolist()[:3] == [2, 2, 3] and grown["users"].iloc[-1] == 3
    assert grown["chats"].tolist()[:2] == [0, 1]


def test_cohort_retention_by_week_and_unstarted_weeks_are_nan() -> None:
    users = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4],
            "date_joined": [
                utc("2025-03-03 08:00"),  # Monday: cohort 03-03
                utc("2025-03-05 12:00"),  # Wednesday: cohort 03-03
                utc("2025-03-11 09:00"),  # next Tuesday: cohort 03-10
                utc("2025-02-20"),  # before the range: no cohort
            ],
        }
    )
    activity = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3, 4, 2],
            "day": [T(d).date() for d in ["2025-03-03", "2025-03-12", "2025-03-13"]]
            + [T(d).date() for d in ["2025-03-11", "2025-03-12", "2025-03-06"]],
            "messages": [1, 2, 1, 5, 1, 0],  # user 2 on 03-06: a zero row is not activity
        }
    )
    start, end = utc("2025-03-03"), utc("2025-03-17")
    table = a.cohort_retention(users, activity, start, end, max_weeks=3)
    assert table.index.tolist() == [utc("2025-03-03"), utc("2025-03-10")]
    first, second = table.iloc[0], table.iloc[1]
    assert first["users"] == 2 and first[0] == 0.5 and first[1] == 1.0
    assert math.isnan(first[2]) and math.isnan(first[3])
    assert second["users"] == 1 and second[0] == 1.0 and math.isnan(second[1])

    summary = a.engagement_summary(
        {
            "users": users,
            "user_day_activity": activity,
            "first_replies": pd.DataFrame(
                columns=["chat_id", "first_message_at", "first_reply_at"]
            ),
        },
        start,
        end,
    )
    assert summary["new_users"] == 3
    assert summary["week1_retention"] == 1.0  # only the 03-03 cohort has had its week 1
    assert summary["cohorts"]["2025-03-03"] == {
        "users": 2,
        "retention": [0.5, 1.0] + [None] * 7,  # weeks 2..8 have not started by `end`
    }
    assert summary["first_reply"]["chats"] == 0
    assert "3 users joined in 2 weekly cohorts" in a.engagement_conclusion(summary)


def test_first_reply_median_and_p90() -> None:
    frame = pd.DataFrame(
        {
            "chat_id": [1, 2, 3, 4, 5],
            "first_message_at": [utc("2025-03-04 10:00")] * 4 + [utc("2025-03-01 10:00")],
            "first_reply_at": [
                utc("2025-03-04 10:10"),
                utc("2025-03-04 11:00"),
                utc("2025-03-04 10:30"),
                pd.NaT,  # nobody answered yet
                utc("2025-03-01 10:01"),  # first message before the range
            ],
        }
    )
    stats = a.first_reply_stats(frame, START, END)
    # waits 10, 60, 30 min: median 30; p90 between ranks 1 and 2: 30 + 0.8 * 30 = 54.
    assert stats == {
        "chats": 4,
        "replied": 3,
        "unreplied": 1,
        "median_minutes": 30.0,
        "p90_minutes": 54.0,
    }
    assert sorted(a.reply_minutes(frame, START, END).tolist()) == [10.0, 30.0, 60.0]


@pytest.fixture
def notifications() -> pd.DataFrame:
    rows = [
        (1, "member_added", "sent", 1, "2025-03-04 12:00:00", "2025-03-04 12:00:02", ""),
        (2, "member_added", "sent", 2, "2025-03-04 12:10:00", "2025-03-04 12:10:10", ""),
        (3, "member_removed", "failed", 6, "2025-03-04 12:20:00", "2025-03-04 12:25:00", "550"),
        (4, "chat_deleted", "sent", 1, "2025-03-04 13:05:00", "2025-03-04 13:05:01", ""),
        (5, "member_added", "pending", 0, "2025-03-04 13:30:00", None, ""),
        (6, "member_added", "failed", 6, "2025-03-01 13:30:00", "2025-03-01 13:40:00", "x"),
    ]
    columns = ["notification_id", "event", "status", "attempts", "created_at", "done_at"]
    frame = pd.DataFrame(rows, columns=[*columns, "last_error"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["done_at"] = pd.to_datetime(frame["done_at"], utc=True)
    return frame


def test_delivery_summary_latency_and_failure_rate(notifications: pd.DataFrame) -> None:
    summary = a.delivery_summary(notifications, START, END)
    # Latencies of the sent emails: 2, 10, 1 s. p90 of [1, 2, 10]: 2 + 0.8 * 8 = 8.4.
    assert {k: summary[k] for k in summary if k != "by_event"} == {
        "emails": 5,
        "sent": 3,
        "failed": 1,
        "waiting": 1,
        "failure_rate": 0.25,
        "latency_median_s": 2.0,
        "latency_p90_s": 8.4,
        "latency_max_s": 10.0,
        "retried": 2,
    }
    assert summary["by_event"]["member_removed"] == {
        "emails": 1,
        "failed": 1,
        "failure_rate": 1.0,
    }
    assert summary["by_event"]["member_added"]["failure_rate"] == 0.0


def test_hourly_health_and_worst_hours(notifications: pd.DataFrame) -> None:
    health = a.hourly_health(notifications, START, END)
    assert health.index.tolist() == [utc("2025-03-04 12:00"), utc("2025-03-04 13:00")]
    noon, one = health.iloc[0], health.iloc[1]
    assert (noon["emails"], noon["failed"]) == (3, 1)
    assert noon["failure_rate"] == pytest.approx(1 / 3)
    assert noon["latency_p90_s"] == pytest.approx(9.2)  # [2, 10]: 2 + 0.9 * 8
    # At 13h one email is still pending: it has no outcome, so the rate is 0 of 1, not of 2.
    assert (one["emails"], one["failed"], one["failure_rate"], one["latency_p90_s"]) == (
        2,
        0,
        0.0,
        1.0,
    )
    assert a.worst_hours(health, n=1).index.tolist() == [utc("2025-03-04 12:00")]

    summary = a.task_health_summary({"notifications": notifications}, START, END)
    assert summary["worst_hours"][0]["hour"] == "2025-03-04T12:00:00+00:00"
    text = a.task_health_conclusion(summary)
    assert "**5 emails** queued: 3 sent, 1 failed, 1 still waiting" in text
    assert "failure rate **25.0%**" in text and "8.4 s at p90" in text
    assert "worst hour was 2025-03-04 12:00 UTC: 1 of 3 failed, p90 latency 9.2 s" in text


def test_activity_summary_and_conclusion(hourly: pd.DataFrame) -> None:
    daily = pd.DataFrame(
        {
            "day": [T("2025-03-10").date()] * 3,
            "stat": ["active_users_1d", "active_users_7d", "active_users_30d"],
            "value": [1, 2, 4],
        }
    )
    chat_hourly = pd.DataFrame({"hour": [T("2025-03-03 09:00")], "chat_id": [7], "messages": [4]})
    tables = {
        "hourly": hourly,
        "daily": daily,
        "chat_hourly": chat_hourly,
        "chats": pd.DataFrame(
            {"chat_id": [7], "title": ["Ops"], "created_at": [utc("2025-03-02")]}
        ),
        "users": pd.DataFrame(
            {"user_id": [1, 2], "date_joined": [utc("2025-01-01"), utc("2025-03-05")]}
        ),
    }
    summary = a.activity_summary(tables, START, END)
    assert summary["messages"] == 10 and summary["days"] == 8
    assert summary["busiest_day"] == "2025-03-03" and summary["busiest_day_messages"] == 5
    assert summary["peak_hour_of_week"] == {"weekday": "Mon", "hour": 9, "messages": 7}
    assert (summary["dau_last_day"], summary["wau_last_day"], summary["mau_last_day"]) == (1, 2, 4)
    assert summary["stickiness_last_day"] == 0.25 and summary["stickiness_mean"] == 0.25
    assert summary["top_chat"] == {"chat_id": 7, "title": "Ops", "messages": 4}
    assert (summary["users_at_end"], summary["users_new"]) == (2, 1)
    assert (summary["chats_at_end"], summary["chats_new"]) == (1, 0)
    json.loads(a.summary_json(summary))  # the notebook prints it; it must be valid JSON
    text = a.activity_conclusion(summary)
    assert "**10 messages** in 8 days (1.25 a day)" in text
    assert "Mon at 09:00 UTC" in text and "On 2025-03-10 DAU/WAU/MAU were 1/2/4." in text
    assert "Mean stickiness (DAU/MAU) was **25%**" in text


def test_fetch_live_stats_reads_the_real_api_with_any_users_token(
    live_server, redis_service
) -> None:
    """The real /api/stats/ (live server, real Redis): a plain user's token reads the snapshot
    the web processes serve; a refused token is an HTTP 401, not an empty or partial answer."""
    snapshot.redis_client().flushdb()
    user = get_user_model().objects.create_user("analyst", password="a-long-test-password")
    snapshot.refresh_snapshot()
    url = f"{live_server.url}/api/stats/"
    live = a.fetch_live_stats(url, token=Token.objects.create(user=user).key)
    assert live == snapshot.load_snapshot()
    assert live["users"] == 1
    with pytest.raises(urllib.error.HTTPError) as refused:
        a.fetch_live_stats(url, token="not-a-token")
    assert refused.value.code == 401
    with pytest.raises(ValueError, match="http"):
        a.fetch_live_stats("file:///etc/passwd")
