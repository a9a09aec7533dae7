"""The Engagement notebook's computations (notebooks/analysis/engagement.py) on small tables
whose answers are worked out by hand."""

from __future__ import annotations

import math

import pandas as pd

from notebooks.analysis import engagement

from .support import END, START, T, utc


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
    table = engagement.cohort_retention(users, activity, start, end, max_weeks=3)
    assert table.index.tolist() == [utc("2025-03-03"), utc("2025-03-10")]
    first, second = table.iloc[0], table.iloc[1]
    assert first["users"] == 2 and first[0] == 0.5 and first[1] == 1.0
    assert math.isnan(first[2]) and math.isnan(first[3])
    assert second["users"] == 1 and second[0] == 1.0 and math.isnan(second[1])

    summary = engagement.summary(
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
    assert "3 users joined in 2 weekly cohorts" in engagement.conclusion(summary)


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
    stats = engagement.first_reply_stats(frame, START, END)
    # waits 10, 60, 30 min: median 30; p90 between ranks 1 and 2: 30 + 0.8 * 30 = 54.
    assert stats == {
        "chats": 4,
        "replied": 3,
        "unreplied": 1,
        "median_minutes": 30.0,
        "p90_minutes": 54.0,
    }
    assert sorted(engagement.reply_minutes(frame, START, END).tolist()) == [10.0, 30.0, 60.0]
