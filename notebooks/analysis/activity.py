"""The Activity notebook: how much people chat, when, and whether usage grows.

`hour_of_week` and `busiest_chats` come from metrics.reports.transforms: the report's charts
draw the same computation, so the notebook and the report cannot disagree; its chart labels a
chat as the report does (`chat_label`, metrics.reports.usertext), and the conclusion quotes the
busiest chat's title through `formatting.markdown_text`: a title is text, never markup.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metrics.reports.transforms import busiest_chats, hour_of_week, stat_series, utc
from metrics.reports.usertext import chat_label as chat_label  # the notebook labels with it
from metrics.timeutil import DAY

from .formatting import markdown_text, number
from .reading import BeforeRange


def days_in(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Every UTC day that overlaps `[start, end)`."""
    return pd.date_range(
        start.floor("D"), (end - pd.Timedelta(microseconds=1)).floor("D"), freq="D"
    )


def messages_per_day(hourly: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Messages sent on each day of the range, days without a message included as 0."""
    sent = stat_series(hourly, "messages_sent", start, end)
    per_day = sent.groupby(sent.index.floor("D")).sum()
    return per_day.reindex(days_in(start, end), fill_value=0).astype("int64").rename("messages")


def messages_per_hour_of_day(
    hourly: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.Series:
    """Messages by UTC hour of the day (0..23) over the range."""
    sent = stat_series(hourly, "messages_sent", start, end)
    return (
        sent.groupby(sent.index.hour).sum().reindex(range(24), fill_value=0).astype("int64")
    ).rename("messages")


def peak_hour_of_week(grid: pd.DataFrame) -> dict[str, Any] | None:
    """The busiest (weekday, hour) cell, or None when there were no messages."""
    if int(grid.to_numpy().sum()) == 0:
        return None
    day, hour = np.unravel_index(int(np.argmax(grid.to_numpy())), grid.shape)
    return {"weekday": grid.index[day], "hour": int(hour), "messages": int(grid.iat[day, hour])}


def partial_start(hourly: pd.DataFrame) -> pd.Timestamp | None:
    """Where the report's partial counts begin (its first `partial` hour), None if none are."""
    if "partial" not in hourly:
        return None
    hours = hourly.loc[hourly["partial"].astype(bool), "hour"]
    return utc(hours).min() if len(hours) else None


def active_users(
    daily: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    partial_from: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """DAU, WAU, MAU per day and stickiness (DAU / MAU), from the report's `daily` table.

    Active means sent at least one message (the metrics app's definition); WAU and MAU are the
    users active in the 7 and 30 days ending on that day. The report writes a row (zero
    included) for every day already computed, so a day without rows is not computed yet and is
    left out. The day in progress has rows marked `partial`, counted up to the report's end:
    they are left out when the range stops at or before `partial_from` (the default range,
    reading.analysis_range), and shown as the count so far when it reaches past it.
    Stickiness is NaN where MAU is 0.
    """
    names = {"active_users_1d": "dau", "active_users_7d": "wau", "active_users_30d": "mau"}
    rows = daily.loc[daily["stat"].isin(names)].assign(day=lambda f: utc(f["day"]))
    if partial_from is not None and end <= partial_from and "partial" in rows:
        rows = rows.loc[~rows["partial"].astype(bool)]
    table = rows.pivot_table(index="day", columns="stat", values="value", aggfunc="sum")
    table = table.reindex(columns=list(names)).rename(columns=names)
    table = table.reindex(days_in(start, end)).dropna(how="all").fillna(0).astype("int64")
    table.index.name, table.columns.name = "day", None
    mau = table["mau"].where(table["mau"] > 0)
    table["stickiness"] = table["dau"] / mau
    return table


def existing_at(
    times: pd.Series, moments: pd.DatetimeIndex, before: int, since: pd.Timestamp | None
) -> np.ndarray:
    """How many rows exist at each of `moments`: `before` (created before `since`, which the
    table does not list) plus the table's rows created from `since` (None: any time) until it."""
    created = utc(times)
    if since is not None:
        created = created[created >= since]  # listed for another reason (a chat active in range)
    values = np.sort(created.to_numpy(dtype="datetime64[ns]"))
    found = np.searchsorted(values, moments.tz_convert("UTC").tz_localize(None).to_numpy(), "left")
    return before + found


def growth(
    users: pd.DataFrame,
    chats: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    before: BeforeRange,
) -> pd.DataFrame:
    """Users and chats that exist at the end of each day of the range (cumulative counts): those
    created before the report's range (`before`, from its manifest) plus those its tables list
    as created since, up to that day's end.

    Deleted accounts and chats are counted by neither, so the curves count today's rows only.
    """
    days = days_in(start, end)
    ends = days + DAY
    frame = pd.DataFrame(
        {
            "users": existing_at(users["date_joined"], ends, before.users, before.start),
            "chats": existing_at(chats["created_at"], ends, before.chats, before.start),
        },
        index=days,
    )
    frame.index.name = "day"
    return frame


def summary(
    tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp, before: BeforeRange
) -> dict[str, Any]:
    """The figures the Activity notebook concludes with (also printed as JSON for tests);
    `before`: the manifest's counts of what the tables do not list (reading.before_range)."""
    per_day = messages_per_day(tables["hourly"], start, end)
    dau = active_users(tables["daily"], start, end, partial_start(tables["hourly"]))
    top = busiest_chats(tables["chat_hourly"], tables["chats"], start, end, n=1)
    peak = peak_hour_of_week(hour_of_week(tables["hourly"], start, end))
    grown = growth(tables["users"], tables["chats"], start, end, before)
    at_start = pd.DatetimeIndex([start])
    users, chats = tables["users"], tables["chats"]
    users_at_start = existing_at(users["date_joined"], at_start, before.users, before.start)[0]
    chats_at_start = existing_at(chats["created_at"], at_start, before.chats, before.start)[0]
    last_day = dau.iloc[-1] if len(dau) else None
    busiest_day = per_day.idxmax() if per_day.sum() > 0 else None
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": len(per_day),
        "messages": int(per_day.sum()),
        "messages_per_day_mean": round(float(per_day.mean()), 2),
        "busiest_day": busiest_day.date().isoformat() if busiest_day is not None else None,
        "busiest_day_messages": int(per_day.max()),
        "peak_hour_of_week": peak,
        # The last day whose active users are computed: a complete day, unless `end` was set
        # past the report's partial_from (then the day in progress, as the header says).
        "last_day": dau.index[-1].date().isoformat() if len(dau) else None,
        "dau_last_day": None if last_day is None else int(last_day["dau"]),
        "wau_last_day": None if last_day is None else int(last_day["wau"]),
        "mau_last_day": None if last_day is None else int(last_day["mau"]),
        "stickiness_last_day": None if last_day is None else number(last_day["stickiness"]),
        "stickiness_mean": number(dau["stickiness"].mean()),
        "top_chat": (
            {
                "chat_id": int(top.at[0, "chat_id"]),
                "title": str(top.at[0, "title"]),
                "messages": int(top.at[0, "messages"]),
            }
            if len(top)
            else None
        ),
        "users_at_end": int(grown["users"].iloc[-1]),
        "users_new": int(grown["users"].iloc[-1] - users_at_start),
        "chats_at_end": int(grown["chats"].iloc[-1]),
        "chats_new": int(grown["chats"].iloc[-1] - chats_at_start),
    }


def conclusion(summary: dict[str, Any]) -> str:
    """The Activity notebook's closing paragraph, from its summary."""
    if summary["messages"] == 0:
        return (
            f"No messages were sent in the {summary['days']} days analysed; "
            f"{summary['users_at_end']} users and {summary['chats_at_end']} chats exist."
        )
    peak = summary["peak_hour_of_week"]
    top = summary["top_chat"]
    stickiness = summary["stickiness_mean"]
    sticky = "n/a" if stickiness is None else f"{stickiness:.0%}"
    return (
        f"**{summary['messages']} messages** in {summary['days']} days "
        f"({summary['messages_per_day_mean']:g} a day); the busiest day was "
        f"{summary['busiest_day']} with {summary['busiest_day_messages']}. "
        f"Activity peaks on **{peak['weekday']} at {peak['hour']:02d}:00 UTC**. "
        + (
            f"On {summary['last_day']} DAU/WAU/MAU were {summary['dau_last_day']}/"
            f"{summary['wau_last_day']}/{summary['mau_last_day']}. "
            if summary["last_day"]
            else ""
        )
        + f"Mean stickiness (DAU/MAU) was **{sticky}**. "
        f'The busiest chat was "{markdown_text(top["title"])}" ({top["messages"]} messages). '
        f"Users grew by {summary['users_new']} to {summary['users_at_end']}, "
        f"chats by {summary['chats_new']} to {summary['chats_at_end']}."
    )
