"""pandas transforms of the report tables, shared by the report's charts and the notebooks.

One definition each: the busiest chats and the hour-of-week grid a report draws are the ones
the Activity notebook shows and concludes from, and every timestamp goes through `utc`.
Imports no models (the notebooks run without the app registry); works on the tables as written
(metrics.reports.tables) or as read back from Parquet or CSV.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DELETED_CHAT = "(deleted chat)"


def utc(values: pd.Series | Any) -> pd.Series | pd.Timestamp:
    """Timestamps (naive meaning UTC, or aware) as aware UTC; dates become UTC midnight.

    A Series comes back at microseconds, the database's resolution: pandas 3 infers the unit
    from the values, so an empty or all-null column would be seconds (milliseconds in Parquet)
    and a table's Parquet schema would depend on whether it had rows.
    """
    if isinstance(values, pd.Series):
        return pd.to_datetime(values, utc=True).dt.as_unit("us")
    stamp = pd.Timestamp(values)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def between(
    frame: pd.DataFrame,
    column: str,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Rows whose `column` (a timestamp or a day) falls in `[start, end)`; None: no bound."""
    times = utc(frame[column])
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= times >= start
    if end is not None:
        keep &= times < end
    return frame.loc[keep]


def stat_series(
    hourly: pd.DataFrame,
    stat: str,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.Series:
    """One statistic of the `hourly` table in `[start, end)` (None: no bound) as a Series
    indexed by UTC hour; hours without a row are absent."""
    rows = between(hourly.loc[hourly["stat"] == stat], "hour", start, end)
    series = pd.Series(rows["value"].to_numpy(dtype="int64"), index=utc(rows["hour"]))
    return series.groupby(level=0).sum().sort_index()


def hour_of_week(
    hourly: pd.DataFrame, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Messages per (weekday, UTC hour) in `[start, end)`: 7 rows Mon..Sun, 24 columns 0..23."""
    sent = stat_series(hourly, "messages_sent", start, end)
    grid = np.zeros((7, 24), dtype="int64")
    np.add.at(grid, (sent.index.day_of_week, sent.index.hour), sent.to_numpy())
    return pd.DataFrame(grid, index=list(WEEKDAYS), columns=list(range(24)))


def busiest_chats(
    chat_hourly: pd.DataFrame,
    chats: pd.DataFrame,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    n: int = 5,
    deleted_title: str = DELETED_CHAT,
) -> pd.DataFrame:
    """The `n` chats with the most messages in `[start, end)` (None: no bound), most first,
    ties by chat id: columns chat_id, title, messages.

    The counts outlive a deleted chat (they are history), but its title does not: such a chat
    is titled `deleted_title`.
    """
    rows = between(chat_hourly, "hour", start, end)
    counts = rows.groupby("chat_id")["messages"].sum().astype("int64").rename("messages")
    frame = counts.reset_index().merge(chats[["chat_id", "title"]], on="chat_id", how="left")
    frame["title"] = frame["title"].fillna(deleted_title)
    frame = frame.loc[frame["messages"] > 0]
    frame = frame.sort_values(["messages", "chat_id"], ascending=[False, True])
    return frame.head(n).reset_index(drop=True)[["chat_id", "title", "messages"]]
