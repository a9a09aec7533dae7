"""The computations behind the analysis notebooks, as plain functions on the report tables.

The notebooks only load, call these and draw, so every number they print is unit-tested here.
Nothing in this module needs a database or Django's app registry (only its settings, for
REPORTS_DIR): it reads a report folder written by the metrics job (layout: docs/notebooks.md and
metrics.reports.folders), so an analyst can open the notebooks on a copied report folder anywhere.

Time conventions: every timestamp is turned into a timezone-aware UTC `pandas.Timestamp`; a day
is the UTC midnight that starts it; ranges are half-open, `[start, end)`.
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metrics.reports.folders import LATEST, latest_report, load_table
from metrics.reports.transforms import between, busiest_chats, hour_of_week, stat_series, utc

DAY = pd.Timedelta(days=1)


# --- Finding and reading a report ---------------------------------------------------------------


def reports_dir() -> Path:
    """REPORTS_DIR from the platform's settings (environment first, then .env)."""
    import os

    from django.conf import settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
    return Path(settings.REPORTS_DIR)


def resolve_report_dir(report_dir: str | Path | None = "") -> Path:
    """The report folder to analyse: the given one, or the one REPORTS_DIR/latest names.

    The `latest` symlink is resolved once, so a notebook reads one report even if the metrics
    job replaces `latest` while it runs.
    """
    path = Path(report_dir) if report_dir else latest_report(reports_dir())
    if path is None or not (path / "manifest.json").is_file():
        where = path or reports_dir() / LATEST
        raise FileNotFoundError(
            f"no report at {where}: run the report job first (manage.py make_report, "
            "or wait for beat)"
        )
    return path.resolve()


def load_manifest(report_dir: Path) -> dict[str, Any]:
    return json.loads((Path(report_dir) / "manifest.json").read_text())


def load_report(report_dir: Path, names: Iterable[str]) -> dict[str, pd.DataFrame]:
    """The named tables of a report (its manifest.json lists them all)."""
    return {name: load_table(report_dir, name) for name in names}


def analysis_range(manifest: dict[str, Any], start: str = "", end: str = "") -> tuple:
    """The half-open UTC range `[start, end)` the notebook looks at.

    Empty strings mean the report's own range. A date without a time as `end` includes that
    whole day (end="2025-01-31" covers January 31st).
    """
    report_range = manifest.get("range") or {}
    first = utc(start or report_range["start"])
    if end:
        last = utc(end)
        if len(end.strip()) == 10:  # a bare date: through the end of that day
            last += DAY
    else:
        last = utc(report_range["end"])
    if last <= first:
        raise ValueError(f"empty range: start {first} is not before end {last}")
    return first, last


def days_in(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Every UTC day that overlaps `[start, end)`."""
    return pd.date_range(
        start.floor("D"), (end - pd.Timedelta(microseconds=1)).floor("D"), freq="D"
    )


# --- Activity -------------------------------------------------------------------------------------


def messages_per_day(hourly: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Messages sent on each day of the range, days without a message included as 0."""
    sent = stat_series(hourly, "messages_sent", start, end)
    per_day = sent.groupby(sent.index.floor("D")).sum()
    return per_day.reindex(days_in(start, end), fill_value=0).astype("int64").rename("messages")


def messages_per_hour_of_day(hourly: pd.DataFrame, start, end) -> pd.Series:
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


def active_users(daily: pd.DataFrame, start, end) -> pd.DataFrame:
    """DAU, WAU, MAU per day and stickiness (DAU / MAU), from the report's `daily` table.

    Active means sent at least one message (the metrics app's definition); WAU and MAU are the
    users active in the 7 and 30 days ending on that day. The report writes a row (zero
    included) for every day already computed, so a day without rows is not computed yet (the
    current day) and is left out. Stickiness is NaN where MAU is 0.
    """
    names = {"active_users_1d": "dau", "active_users_7d": "wau", "active_users_30d": "mau"}
    rows = daily.loc[daily["stat"].isin(names)].assign(day=lambda f: utc(f["day"]))
    table = rows.pivot_table(index="day", columns="stat", values="value", aggfunc="sum")
    table = table.reindex(columns=list(names)).rename(columns=names)
    table = table.reindex(days_in(start, end)).dropna(how="all").fillna(0).astype("int64")
    table.index.name, table.columns.name = "day", None
    mau = table["mau"].where(table["mau"] > 0)
    table["stickiness"] = table["dau"] / mau
    return table


def growth(users: pd.DataFrame, chats: pd.DataFrame, start, end) -> pd.DataFrame:
    """Users and chats that exist at the end of each day of the range (cumulative counts).

    Chats deleted since are not in the report, so the chat curve counts today's chats only.
    """
    days = days_in(start, end)
    ends = days + DAY

    def cumulative(times: pd.Series) -> np.ndarray:
        values = np.sort(utc(times).to_numpy(dtype="datetime64[ns]"))
        return np.searchsorted(values, ends.tz_localize(None).to_numpy(), side="left")

    frame = pd.DataFrame(
        {"users": cumulative(users["date_joined"]), "chats": cumulative(chats["created_at"])},
        index=days,
    )
    frame.index.name = "day"
    return frame


def activity_summary(tables: dict[str, pd.DataFrame], start, end) -> dict[str, Any]:
    """The figures the Activity notebook concludes with (also printed as JSON for tests)."""
    per_day = messages_per_day(tables["hourly"], start, end)
    dau = active_users(tables["daily"], start, end)
    top = busiest_chats(tables["chat_hourly"], tables["chats"], start, end, n=1)
    peak = peak_hour_of_week(hour_of_week(tables["hourly"], start, end))
    grown = growth(tables["users"], tables["chats"], start, end)
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
        # The last day whose active users are computed (a complete day).
        "last_day": dau.index[-1].date().isoformat() if len(dau) else None,
        "dau_last_day": None if last_day is None else int(last_day["dau"]),
        "wau_last_day": None if last_day is None else int(last_day["wau"]),
        "mau_last_day": None if last_day is None else int(last_day["mau"]),
        "stickiness_last_day": None if last_day is None else _number(last_day["stickiness"]),
        "stickiness_mean": _number(dau["stickiness"].mean()),
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
        "users_new": int(
            grown["users"].iloc[-1] - _count_before(tables["users"], "date_joined", start)
        ),
        "chats_at_end": int(grown["chats"].iloc[-1]),
        "chats_new": int(
            grown["chats"].iloc[-1] - _count_before(tables["chats"], "created_at", start)
        ),
    }


def activity_conclusion(summary: dict[str, Any]) -> str:
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
        f'The busiest chat was "{top["title"]}" ({top["messages"]} messages). '
        f"Users grew by {summary['users_new']} to {summary['users_at_end']}, "
        f"chats by {summary['chats_new']} to {summary['chats_at_end']}."
    )


# --- Engagement -----------------------------------------------------------------------------------


def week_start(times: pd.Series) -> pd.Series:
    """The Monday 00:00 UTC that starts each timestamp's ISO week."""
    days = utc(times).dt.floor("D")
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def cohort_retention(
    users: pd.DataFrame,
    user_day_activity: pd.DataFrame,
    start,
    end,
    max_weeks: int = 8,
) -> pd.DataFrame:
    """Weekly cohort retention: the share of each week's new users who sent a message N weeks on.

    Rows: cohorts (the Monday of the week the users joined, for users who joined in the range);
    columns: `users` (cohort size), then 0..max_weeks (week 0 is the joining week). A week that
    has not started by `end` is NaN, not 0: nobody could have come back yet.
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


def first_reply_stats(first_replies: pd.DataFrame, start, end) -> dict[str, Any]:
    """How long a chat's first message waits for someone else to answer, in minutes.

    Chats whose first message falls in the range count; median and p90 are over the chats that
    got a reply (linear interpolation between ranks, numpy's default), and `unreplied` counts
    the rest.
    """
    chats = len(between(first_replies, "first_message_at", start, end))
    minutes = reply_minutes(first_replies, start, end)
    replied = len(minutes)
    return {
        "chats": chats,
        "replied": replied,
        "unreplied": chats - replied,
        "median_minutes": _number(minutes.quantile(0.5)) if replied else None,
        "p90_minutes": _number(minutes.quantile(0.9)) if replied else None,
    }


def reply_minutes(first_replies: pd.DataFrame, start, end) -> pd.Series:
    """Minutes to the first reply of each replied chat whose first message is in the range."""
    rows = between(first_replies, "first_message_at", start, end)
    return (
        (utc(rows["first_reply_at"]) - utc(rows["first_message_at"])).dropna()
    ).dt.total_seconds() / 60


def engagement_summary(tables: dict[str, pd.DataFrame], start, end) -> dict[str, Any]:
    retention = cohort_retention(tables["users"], tables["user_day_activity"], start, end)
    week1 = retention[1].dropna() if 1 in retention else pd.Series(dtype="float64")
    sizes = retention.loc[week1.index, "users"] if len(week1) else pd.Series(dtype="int64")
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "cohorts": {
            cohort.date().isoformat(): {
                "users": int(row["users"]),
                "retention": [_number(row[n]) for n in retention.columns[1:]],
            }
            for cohort, row in retention.iterrows()
        },
        "new_users": int(retention["users"].sum()) if len(retention) else 0,
        # Week-1 retention over every cohort that has had a week 1, weighted by cohort size.
        "week1_retention": _number((week1 * sizes).sum() / sizes.sum()) if len(week1) else None,
        "first_reply": first_reply_stats(tables["first_replies"], start, end),
    }


def engagement_conclusion(summary: dict[str, Any]) -> str:
    reply = summary["first_reply"]
    parts = []
    if summary["new_users"]:
        week1 = summary["week1_retention"]
        parts.append(
            f"{_plural(summary['new_users'], 'user')} joined in "
            f"{_plural(len(summary['cohorts']), 'weekly cohort')}; "
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


# --- Task health (emails) -------------------------------------------------------------------------


def delivery_latency_seconds(notifications: pd.DataFrame) -> pd.Series:
    """Seconds from queued (created_at) to sent (done_at), for each sent email."""
    sent = notifications.loc[(notifications["status"] == "sent") & notifications["done_at"].notna()]
    return (utc(sent["done_at"]) - utc(sent["created_at"])).dt.total_seconds().rename("seconds")


def delivery_summary(notifications: pd.DataFrame, start, end) -> dict[str, Any]:
    """Counts, failure rate and latency of the emails queued in the range.

    failure_rate = failed / (sent + failed): emails still pending or being sent have no outcome
    yet. Latency percentiles (linear interpolation) are over sent emails.
    """
    rows = between(notifications, "created_at", start, end)
    status = rows["status"].value_counts()
    sent, failed = int(status.get("sent", 0)), int(status.get("failed", 0))
    latency = delivery_latency_seconds(rows)
    return {
        "emails": len(rows),
        "sent": sent,
        "failed": failed,
        "waiting": len(rows) - sent - failed,
        "failure_rate": _number(failed / (sent + failed)) if sent + failed else None,
        "latency_median_s": _number(latency.quantile(0.5)) if len(latency) else None,
        "latency_p90_s": _number(latency.quantile(0.9)) if len(latency) else None,
        "latency_max_s": _number(latency.max()) if len(latency) else None,
        "retried": int((rows["attempts"] > 1).sum()),
        "by_event": failure_by_event(rows).to_dict(orient="index"),
    }


def failure_by_event(notifications: pd.DataFrame) -> pd.DataFrame:
    """Emails, failures and failure rate per event kind."""
    frame = notifications.assign(
        failed=notifications["status"] == "failed",
        done=notifications["status"].isin(["sent", "failed"]),
    )
    table = frame.groupby("event").agg(
        emails=("status", "size"), failed=("failed", "sum"), done=("done", "sum")
    )
    table["failure_rate"] = (table["failed"] / table["done"].where(table["done"] > 0)).round(6)
    return table[["emails", "failed", "failure_rate"]].astype(
        {"emails": "int64", "failed": "int64"}
    )


def hourly_health(notifications: pd.DataFrame, start, end) -> pd.DataFrame:
    """Per hour the emails were queued in: volume, failures, failure rate, p90 latency (s)."""
    rows = between(notifications, "created_at", start, end)
    rows = rows.assign(
        hour=utc(rows["created_at"]).dt.floor("h"),
        failed=rows["status"] == "failed",
        done=rows["status"].isin(["sent", "failed"]),
        latency=(utc(rows["done_at"]) - utc(rows["created_at"]))
        .dt.total_seconds()
        .where(rows["status"] == "sent"),
    )
    table = rows.groupby("hour").agg(
        emails=("status", "size"),
        failed=("failed", "sum"),
        done=("done", "sum"),
        latency_p90_s=(
            "latency",
            lambda s: s.dropna().quantile(0.9) if s.notna().any() else np.nan,
        ),
    )
    table["failure_rate"] = table["failed"] / table["done"].where(table["done"] > 0)
    return table[["emails", "failed", "failure_rate", "latency_p90_s"]].astype(
        {"emails": "int64", "failed": "int64"}
    )


def worst_hours(health: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The hours that hurt most: highest failure rate, then slowest p90, then most emails."""
    ranked = health.assign(
        _rate=health["failure_rate"].fillna(-1), _p90=health["latency_p90_s"].fillna(-1)
    ).sort_values(["_rate", "_p90", "emails"], ascending=False)
    return ranked.drop(columns=["_rate", "_p90"]).head(n)


def task_health_summary(tables: dict[str, pd.DataFrame], start, end) -> dict[str, Any]:
    notifications = tables["notifications"]
    summary = delivery_summary(notifications, start, end)
    worst = worst_hours(hourly_health(notifications, start, end))
    summary["worst_hours"] = [
        {
            "hour": hour.isoformat(),
            "emails": int(row["emails"]),
            "failed": int(row["failed"]),
            "failure_rate": _number(row["failure_rate"]),
            "latency_p90_s": _number(row["latency_p90_s"]),
        }
        for hour, row in worst.iterrows()
    ]
    summary["start"], summary["end"] = start.isoformat(), end.isoformat()
    return summary


def task_health_conclusion(summary: dict[str, Any]) -> str:
    if summary["emails"] == 0:
        return "No email was queued in the range."
    rate = summary["failure_rate"]
    text = (
        f"**{summary['emails']} emails** queued: {summary['sent']} sent, {summary['failed']} "
        f"failed, {summary['waiting']} still waiting"
        + (f" (failure rate **{rate:.1%}**)." if rate is not None else ".")
    )
    if summary["latency_median_s"] is not None:
        text += (
            f" Queued to sent took {summary['latency_median_s']:.1f} s at the median, "
            f"{summary['latency_p90_s']:.1f} s at p90, {summary['latency_max_s']:.1f} s at worst."
        )
    worst = summary["worst_hours"][0] if summary["worst_hours"] else None
    if worst and (worst["failed"] or worst["latency_p90_s"] is not None):
        text += (
            f" The worst hour was {worst['hour'][:16].replace('T', ' ')} UTC: "
            f"{worst['failed']} of {worst['emails']} failed"
            + (
                f", p90 latency {worst['latency_p90_s']:.1f} s."
                if worst["latency_p90_s"] is not None
                else "."
            )
        )
    if summary["retried"]:
        text += f" {_plural(summary['retried'], 'email')} needed more than one attempt."
    return text


# --- Live statistics (optional) -------------------------------------------------------------------


def fetch_live_stats(url: str, token: str = "", timeout: float = 5.0) -> dict[str, Any]:
    """GET the platform's /api/stats/ snapshot; it needs any user's API token (not only
    staff's). A refused token raises urllib.error.HTTPError (401)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (checked above)
        return json.loads(response.read())


# --- Helpers --------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A float for JSON, rounded to 6 places; None for NaN."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _count_before(frame: pd.DataFrame, column: str, start: pd.Timestamp) -> int:
    return int((utc(frame[column]) < start).sum())


def summary_json(summary: dict[str, Any]) -> str:
    """The line the notebooks' last cell prints; tests parse it from the executed notebook."""
    return json.dumps(summary, sort_keys=True, default=str)
