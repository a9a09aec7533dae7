"""The Task health notebook: are the admin emails delivered, and how fast?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metrics.reports.transforms import between, utc

from .formatting import number, plural

# The outcomes of an email: sent or failed count in the failure rate; cancelled (its recipient no
# longer took email when its turn came, chats.emails.delivery) and folded into a digest are
# neither. The report's table leaves held and folded rows out (their digest is the email).
SENT, FAILED, CANCELLED = "sent", "failed", "cancelled"
DELIVERED_OR_FAILED = [SENT, FAILED]


def queued_in(notifications: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The emails queued (created) in `[start, end)`: an email belongs to the hour it was
    queued in, whenever it was sent."""
    return between(notifications, "created_at", start, end)


def delivery_latency_seconds(notifications: pd.DataFrame) -> pd.Series:
    """Seconds from queued (created_at) to sent (done_at), for each sent email."""
    sent = notifications.loc[(notifications["status"] == SENT) & notifications["done_at"].notna()]
    return (utc(sent["done_at"]) - utc(sent["created_at"])).dt.total_seconds().rename("seconds")


def delivery_summary(
    notifications: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, Any]:
    """Counts, failure rate and latency of the emails queued in the range.

    failure_rate = failed / (sent + failed): emails still pending or being sent have no outcome
    yet, and a cancelled one (its recipient stopped taking email before it was sent) is neither
    delivered nor a failure. Latency percentiles (linear interpolation) are over sent emails.
    """
    rows = queued_in(notifications, start, end)
    status = rows["status"].value_counts()
    sent, failed = int(status.get(SENT, 0)), int(status.get(FAILED, 0))
    cancelled = int(status.get(CANCELLED, 0))
    latency = delivery_latency_seconds(rows)
    return {
        "emails": len(rows),
        "sent": sent,
        "failed": failed,
        "cancelled": cancelled,
        "waiting": len(rows) - sent - failed - cancelled,
        "failure_rate": number(failed / (sent + failed)) if sent + failed else None,
        "latency_median_s": number(latency.quantile(0.5)) if len(latency) else None,
        "latency_p90_s": number(latency.quantile(0.9)) if len(latency) else None,
        "latency_max_s": number(latency.max()) if len(latency) else None,
        "retried": int((rows["attempts"] > 1).sum()),
        "by_event": failure_by_event(rows).to_dict(orient="index"),
    }


def failure_by_event(notifications: pd.DataFrame) -> pd.DataFrame:
    """Emails, failures and failure rate per event kind (cancelled ones are in `emails` only)."""
    frame = notifications.assign(
        failed=notifications["status"] == FAILED,
        done=notifications["status"].isin(DELIVERED_OR_FAILED),
    )
    table = frame.groupby("event").agg(
        emails=("status", "size"), failed=("failed", "sum"), done=("done", "sum")
    )
    table["failure_rate"] = (table["failed"] / table["done"].where(table["done"] > 0)).round(6)
    return table[["emails", "failed", "failure_rate"]].astype(
        {"emails": "int64", "failed": "int64"}
    )


def hourly_health(
    notifications: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Per hour the emails were queued in: volume, failures, failure rate, p90 latency (s)."""
    rows = queued_in(notifications, start, end)
    rows = rows.assign(
        hour=utc(rows["created_at"]).dt.floor("h"),
        failed=rows["status"] == FAILED,
        done=rows["status"].isin(DELIVERED_OR_FAILED),
        latency=(utc(rows["done_at"]) - utc(rows["created_at"]))
        .dt.total_seconds()
        .where(rows["status"] == SENT),
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


def summary(
    tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, Any]:
    """The figures the Task health notebook concludes with (also printed as JSON for tests)."""
    notifications = tables["notifications"]
    summary = delivery_summary(notifications, start, end)
    worst = worst_hours(hourly_health(notifications, start, end))
    summary["worst_hours"] = [
        {
            "hour": hour.isoformat(),
            "emails": int(row["emails"]),
            "failed": int(row["failed"]),
            "failure_rate": number(row["failure_rate"]),
            "latency_p90_s": number(row["latency_p90_s"]),
        }
        for hour, row in worst.iterrows()
    ]
    summary["start"], summary["end"] = start.isoformat(), end.isoformat()
    return summary


def conclusion(summary: dict[str, Any]) -> str:
    """The Task health notebook's closing paragraph, from its summary."""
    if summary["emails"] == 0:
        return "No email was queued in the range."
    rate = summary["failure_rate"]
    cancelled = (
        f"{summary['cancelled']} cancelled (the recipient no longer took email), "
        if summary["cancelled"]
        else ""
    )
    text = (
        f"**{summary['emails']} emails** queued: {summary['sent']} sent, {summary['failed']} "
        f"failed, {cancelled}{summary['waiting']} still waiting"
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
        text += f" {plural(summary['retried'], 'email')} needed more than one attempt."
    return text
