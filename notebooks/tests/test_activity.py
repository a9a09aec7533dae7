"""The Activity notebook's computations (notebooks/analysis/activity.py) on small tables
whose answers are worked out by hand."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from notebooks.analysis import activity, formatting
from notebooks.analysis.reading import BeforeRange

from .support import END, START, T, utc


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


def test_messages_per_day_fills_quiet_days_with_zero(hourly: pd.DataFrame) -> None:
    per_day = activity.messages_per_day(hourly, START, END)
    assert list(per_day.index) == list(pd.date_range(START, periods=8, freq="D"))
    assert per_day.tolist() == [5, 2, 0, 0, 0, 0, 0, 3]


def test_messages_per_hour_of_day_and_hour_of_week(hourly: pd.DataFrame) -> None:
    by_hour = activity.messages_per_hour_of_day(hourly, START, END)
    assert len(by_hour) == 24 and by_hour[9] == 9 and by_hour[10] == 1 and by_hour.sum() == 10
    grid = activity.hour_of_week(hourly, START, END)
    assert grid.shape == (7, 24)
    assert grid.loc["Mon", 9] == 7 and grid.loc["Mon", 10] == 1 and grid.loc["Tue", 9] == 2
    assert grid.to_numpy().sum() == 10
    assert activity.peak_hour_of_week(grid) == {"weekday": "Mon", "hour": 9, "messages": 7}
    assert activity.peak_hour_of_week(grid * 0) is None


def test_active_users_pivot_and_stickiness() -> None:
    daily = pd.DataFrame(
        {
            "day": [T("2025-03-03").date()] * 3 + [T("2025-03-04").date()] * 3,
            "stat": ["active_users_1d", "active_users_7d", "active_users_30d"] * 2,
            "value": [2, 2, 2, 1, 3, 4],
        }
    )
    table = activity.active_users(daily, START, END)
    assert table.loc[utc("2025-03-03"), ["dau", "wau", "mau"]].tolist() == [2, 2, 2]
    assert table.loc[utc("2025-03-04"), "stickiness"] == pytest.approx(0.25)
    assert table.loc[utc("2025-03-03"), "stickiness"] == 1.0
    # The report writes zeros for computed days; a day without rows is not computed yet.
    assert table.index.tolist() == [utc("2025-03-03"), utc("2025-03-04")]
    zeros = daily.assign(day=T("2025-03-05").date(), value=0)
    table = activity.active_users(pd.concat([daily, zeros]), START, END)
    assert table.loc[utc("2025-03-05"), ["dau", "wau", "mau"]].tolist() == [0, 0, 0]
    assert math.isnan(table.loc[utc("2025-03-05"), "stickiness"])  # undefined, not 0


def test_the_partial_day_is_left_out_unless_the_range_reaches_past_partial_from() -> None:
    """The day in progress: 03-04 counted up to 12:07, partial from 12:00. The default range
    ends at 12:00, so the header's promise (partial counts left out) holds for DAU too."""
    daily = pd.DataFrame(
        {
            "day": [T("2025-03-03").date()] * 3 + [T("2025-03-04").date()] * 3,
            "stat": ["active_users_1d", "active_users_7d", "active_users_30d"] * 2,
            "value": [2, 2, 2, 1, 3, 4],
            "partial": [False] * 3 + [True] * 3,
        }
    )
    hourly = pd.DataFrame(
        {
            "hour": [T("2025-03-04 11:00"), T("2025-03-04 12:00")],
            "stat": ["messages_sent"] * 2,
            "value": [1, 1],
            "partial": [False, True],
        }
    )
    partial_from = activity.partial_start(hourly)
    assert partial_from == utc("2025-03-04 12:00")
    start = utc("2025-03-03")
    table = activity.active_users(daily, start, partial_from, partial_from)
    assert table.index.tolist() == [utc("2025-03-03")]
    table = activity.active_users(daily, start, utc("2025-03-05"), partial_from)
    assert table.loc[utc("2025-03-04"), "dau"] == 1  # asked for: the count so far
    assert activity.partial_start(hourly.assign(partial=False)) is None


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
    top = activity.busiest_chats(chat_hourly, chats, START, END, n=2)
    assert top.to_dict(orient="records") == [
        {"chat_id": 1, "title": "General", "messages": 3},
        {"chat_id": 2, "title": "Random", "messages": 3},
    ]
    third = activity.busiest_chats(chat_hourly, chats, START, END, n=3).iloc[2]
    assert (third["chat_id"], third["title"]) == (3, "(deleted chat)")


def test_growth_counts_what_exists_at_the_end_of_each_day() -> None:
    """The report lists what its range holds (from 03-01); `before` counts what came earlier:
    4 accounts and 2 chats. A chat listed for its messages but created before 03-01 is in
    `before` already, not counted twice."""
    before = BeforeRange(start=utc("2025-03-01"), users=4, chats=2)
    users = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "date_joined": [utc("2025-03-02"), utc("2025-03-03 23:59"), utc("2025-03-05 00:00")],
        }
    )
    chats = pd.DataFrame(
        {
            "chat_id": [1, 2],
            "created_at": [utc("2025-03-04 12:00"), utc("2025-02-01")],  # 2: active in range
        }
    )
    grown = activity.growth(users, chats, START, END, before)
    assert grown["users"].tolist()[:3] == [6, 6, 7] and grown["users"].iloc[-1] == 7
    assert grown["chats"].tolist()[:2] == [2, 3] and grown["chats"].iloc[-1] == 3


def test_growth_of_a_report_that_listed_every_row() -> None:
    """A report from before `before_range` (manifest version 1) listed every account and chat."""
    users = pd.DataFrame({"user_id": [1, 2], "date_joined": [utc("2025-02-01"), utc("2025-03-04")]})
    chats = pd.DataFrame({"chat_id": [1], "created_at": [utc("2025-02-01")]})
    grown = activity.growth(users, chats, START, END, BeforeRange(start=None))
    assert grown["users"].tolist()[:2] == [1, 2] and grown["chats"].tolist()[:2] == [1, 1]


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
        "users": pd.DataFrame({"user_id": [2], "date_joined": [utc("2025-03-05")]}),
    }
    # The report's range starts on 03-01: one account joined before it (not in the table).
    before = BeforeRange(start=utc("2025-03-01"), users=1, chats=0)
    summary = activity.summary(tables, START, END, before)
    assert summary["messages"] == 10 and summary["days"] == 8
    assert summary["busiest_day"] == "2025-03-03" and summary["busiest_day_messages"] == 5
    assert summary["peak_hour_of_week"] == {"weekday": "Mon", "hour": 9, "messages": 7}
    assert (summary["dau_last_day"], summary["wau_last_day"], summary["mau_last_day"]) == (1, 2, 4)
    assert summary["stickiness_last_day"] == 0.25 and summary["stickiness_mean"] == 0.25
    assert summary["top_chat"] == {"chat_id": 7, "title": "Ops", "messages": 4}
    assert (summary["users_at_end"], summary["users_new"]) == (2, 1)
    assert (summary["chats_at_end"], summary["chats_new"]) == (1, 0)
    json.loads(formatting.summary_json(summary))  # the notebook prints it; it must be valid JSON
    text = activity.conclusion(summary)
    assert "**10 messages** in 8 days (1.25 a day)" in text
    assert "Mon at 09:00 UTC" in text and "On 2025-03-10 DAU/WAU/MAU were 1/2/4." in text
    assert "Mean stickiness (DAU/MAU) was **25%**" in text
