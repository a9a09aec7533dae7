"""The report's index.html: the headline numbers, the busiest chats, the charts, the tables.

The page is the template metrics/report_index.html; this module only computes what it shows.
Numbers are formatted here (thousands separated by commas), not by the template's localized
filters, so a report reads the same whatever the locale settings.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from django.template.loader import render_to_string

from .transforms import utc

BUSIEST_ON_PAGE = 10


def summary_numbers(tables: dict[str, pd.DataFrame], manifest: dict[str, Any]) -> dict[str, int]:
    """The headline figures of the page, by label. "Chats" and "Users" are every chat and
    account there is at the range's end: those created before the range (the manifest's
    `before_range`) plus those created in it (the tables list the range only)."""
    hourly, daily, chats = tables["hourly"], tables["daily"], tables["chats"]
    start, before = utc(manifest["range"]["start"]), manifest["before_range"]

    def last(stat: str) -> int:  # the last final day: today's value is still partial
        rows = daily[(daily["stat"] == stat) & ~daily["partial"]]
        return int(rows["value"].iloc[-1]) if len(rows) else 0

    chats_in_range = int((chats["created_at"] >= start).sum())  # the rest were active in it
    return {
        "Messages in the range": int(hourly.loc[hourly["stat"] == "messages_sent", "value"].sum()),
        "New users in the range": int(hourly.loc[hourly["stat"] == "new_users", "value"].sum()),
        "Active users, last full day": last("active_users_1d"),
        "Active users, 7 days": last("active_users_7d"),
        "Active users, 30 days": last("active_users_30d"),
        "Chats": before["chats"] + chats_in_range,
        "Users": before["users"] + len(tables["users"]),
    }


def _count(value: int) -> str:
    return f"{value:,}"


def render_index(manifest: dict[str, Any], tables: dict[str, pd.DataFrame]) -> str:
    """The HTML of index.html (autoescaped: chat titles are user input)."""
    busiest = tables["chats"].nlargest(BUSIEST_ON_PAGE, "messages_last_day")
    context = {
        "generated_at": manifest["generated_at"],
        "start": manifest["range"]["start"],
        "end": manifest["range"]["end"],
        "demo": manifest.get("demo", False),  # the notice: seed_demo's chats exist
        "partial_from": manifest["range"].get("partial_from"),
        # A day is partial as a whole: its daily rows count from 00:00 of partial_from's day.
        "partial_day": (manifest["range"].get("partial_from") or "")[:10],
        "numbers": [(label, _count(v)) for label, v in summary_numbers(tables, manifest).items()],
        "busiest": [
            {
                "title": str(row.title),
                "members": str(row.members),
                "messages_last_day": _count(row.messages_last_day),
                "messages_in_range": _count(row.messages_in_range),
            }
            for row in busiest.itertuples()
        ],
        "charts": manifest["charts"],
        "chart_failures": manifest.get("chart_failures", {}),
        "tables": [
            {"name": name, "rows": _count(info["rows"])}
            for name, info in manifest["tables"].items()
        ],
    }
    return render_to_string("metrics/report_index.html", context)
