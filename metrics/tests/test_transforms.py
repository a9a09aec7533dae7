"""The pandas transforms the report's charts share with the notebooks, on tables small enough
to work out by hand. The notebooks' own tests cover them within a range; these, the report's
use: the whole table, and its label for a deleted chat."""

from __future__ import annotations

import pandas as pd

from metrics.reports.transforms import busiest_chats, hour_of_week, utc

T = pd.Timestamp


def test_utc_makes_series_aware_microseconds_and_scalars_aware() -> None:
    empty = utc(pd.Series([], dtype="object"))
    assert str(empty.dtype) == "datetime64[us, UTC]"  # not seconds: Parquet would differ
    naive = utc(pd.Series([T("2025-03-03 09:00")]))
    assert naive.iloc[0] == T("2025-03-03 09:00", tz="UTC")
    assert utc("2025-03-03T10:00+01:00") == T("2025-03-03 09:00", tz="UTC")
    assert utc(T("2025-03-03").date()) == T("2025-03-03", tz="UTC")


def test_busiest_chats_over_the_whole_table_with_the_reports_label() -> None:
    chat_hourly = pd.DataFrame(
        {
            "hour": [T("2025-03-03 09"), T("2025-03-04 10"), T("2025-02-01 00")],
            "chat_id": [1, 2, 9],
            "messages": [2, 5, 7],
        }
    )
    chats = pd.DataFrame({"chat_id": [1, 2], "title": ["General", ""]})
    top = busiest_chats(chat_hourly, chats, n=10, deleted_title="")
    assert top.to_dict(orient="records") == [
        {"chat_id": 9, "title": "", "messages": 7},  # deleted since: no title
        {"chat_id": 2, "title": "", "messages": 5},
        {"chat_id": 1, "title": "General", "messages": 2},
    ]
    assert busiest_chats(chat_hourly, chats, n=1).at[0, "title"] == "(deleted chat)"


def test_hour_of_week_over_the_whole_table() -> None:
    hourly = pd.DataFrame(
        {
            "hour": [T("2025-03-03 09:00"), T("2025-03-09 23:00"), T("2025-03-10 09:00")],
            "stat": ["messages_sent"] * 3,
            "value": [4, 1, 3],
        }
    )
    grid = hour_of_week(hourly)
    assert grid.loc["Mon", 9] == 7 and grid.loc["Sun", 23] == 1
    assert grid.to_numpy().sum() == 8 and grid.shape == (7, 24)
    assert hour_of_week(hourly.iloc[:0]).to_numpy().sum() == 0
