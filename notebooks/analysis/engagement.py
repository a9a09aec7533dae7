"""The Engagement notebook: do new users come back, and how fast do chats get an answer?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metrics.reports.transforms import between, utc

from .formatting import number, plural


def week_start(times: pd.Series) -> pd.Series:
    """The Monday 00:00 UTC that starts each timestamp's ISO week."""
    days = utc(times).dt.floor("D")
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def cohort_retention(
    users: pd.DataFrame,
    user_day_activity: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    max_weeks: int = 8,
) -> pd.DataFrame:
    """Weekly cohort retention: the share of each week's new users who sent a message N weeks on.

    Rows: cohorts (the Monday of the week the users joined, for users who joined in the range:
    all the report's `users` table lists, since it holds the accounts that joined in the
    report's range); columns: `users` (cohort size), then 0..max_weeks (week 0 is the joining
    week). A week that has not started by `end` is NaN, not 0: nobody could have come back yet.
    """
    joined = between(users, "date_joined", start, end).assign(
        cohort=lambda f: week_start(f["date_joined"])
    )[["user_id", "cohort"]]
    weeks = list(range(max_weeks + 1))
    if joined.empty:
        return pd.DataFrame(columns=["users", *weeks], dtype="float64")
    active = user_day_activity.loc[user_day_activity["messages"] > 0, ["user_id", "day"]]
    active = active.assign(week=week_start(active["day"])).merge(joined, on="user_id")
    active["n"] = ((active["week"] - active["cohort"]) / pd.Timedelta(weeks=1)).astype("int64")
    active = active.loc[(active["n"] >= 0) & (active["n"] <= max_weeks)]
    retained = active.groupby(["cohort", "n"])["user_id"].nunique().unstack(fill_value=0)
    sizes = joined.groupby("cohort")["user_id"].nunique()
    table = retained.reindex(index=sizes.index, columns=weeks, fill_value=0).div(sizes, axis=0)
    for cohort in table.index:
        for n in weeks:
            if cohort + pd.Timedelta(weeks=n) >= end:
                table.loc[cohort, n] = np.nan
    table.insert(0, "users", sizes.astype("int64"))
    table.index.name, table.columns.name = "cohort", None
    return table


def first_reply_stats(
    first_replies: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, Any]:
    """How long a chat's first message waits for someone else to answer, in minutes.

    Chats whose first message falls in the range count (the report's `first_replies` table
    lists those of the report's range); median and p90 are over the chats that got a reply
    (linear interpolation between ranks, numpy's default), and `unreplied` counts the rest.
    """
    chats = len(between(first_replies, "first_message_at", start, end))
    minutes = reply_minutes(first_replies, start, end)
    replied = len(minutes)
    return {
        "chats": chats,
        "replied": replied,
        "unreplied": chats - replied,
        "median_minutes": number(minutes.quantile(0.5)) if replied else None,
        "p90_minutes": number(minutes.quantile(0.9)) if replied else None,
    }


def reply_minutes(first_replies: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Minutes to the first reply of each replied chat whose first message is in the range."""
    rows = between(first_replies, "first_message_at", start, end)
    return (
        (utc(rows["first_reply_at"]) - utc(rows["first_message_at"])).dropna()
    ).dt.total_seconds() / 60


def summary(
    tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, Any]:
    """The figures the Engagement notebook concludes with (also printed as JSON for tests)."""
    retention = cohort_retention(tables["users"], tables["user_day_activity"], start, end)
    week1 = retention[1].dropna() if 1 in retention else pd.Series(dtype="float64")
    sizes = retention.loc[week1.index, "users"] if len(week1) else pd.Series(dtype="int64")
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "cohorts": {
            cohort.date().isoformat(): {
                "users": int(row["users"]),
                "retention": [number(row[n]) for n in retention.columns[1:]],
            }
            for cohort, row in retention.iterrows()
        },
        "new_users": int(retention["users"].sum()) if len(retention) else 0,
        # Week-1 retention over every cohort that has had a week 1, weighted by cohort size.
        "week1_retention": number((week1 * sizes).sum() / sizes.sum()) if len(week1) else None,
        "first_reply": first_reply_stats(tables["first_replies"], start, end),
    }


def conclusion(summary: dict[str, Any]) -> str:
    """The Engagement notebook's closing paragraph, from its summary."""
    reply = summary["first_reply"]
    parts = []
    if summary["new_users"]:
        week1 = summary["week1_retention"]
        parts.append(
            f"{plural(summary['new_users'], 'user')} joined in "
            f"{plural(len(summary['cohorts']), 'weekly cohort')}; "
            + (
                f"**{week1:.0%}** of those who have had a second week sent a message in it."
                if week1 is not None
                else "no cohort has had its second week yet."
            )
        )
    else:
        parts.append("No user joined in the range, so there is no cohort to follow.")
    if reply["replied"]:
        parts.append(
            f"Of {reply['chats']} chats started, {reply['replied']} got a first reply: median "
            f"**{reply['median_minutes']:.1f} min**, p90 **{reply['p90_minutes']:.1f} min**; "
            f"{reply['unreplied']} still wait."
        )
    else:
        parts.append(f"None of the {reply['chats']} chats started in the range got a reply yet.")
    return " ".join(parts)
