"""The report job: tidy tables (Parquet + CSV), PNG charts and an HTML summary, from the counts.

Layout (the contract other apps read, see docs/metrics.md):

    REPORTS_DIR/<%Y%m%dT%H%M%SZ>/{<table>.parquet,<table>.csv,*.png,index.html,manifest.json}
    REPORTS_DIR/latest -> <newest complete folder>

A report is written into a hidden temporary folder and renamed into place whole, then `latest`
is replaced by an atomic rename of a new symlink: a reader never sees a half-written report.
Reports older than REPORTS_RETENTION_DAYS are pruned (never the one `latest` names).

Every table comes from the statistics tables (metrics.models), never from a scan of messages;
the range ends where the counts are final (the last filled hour).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Sum
from django.utils import timezone
from matplotlib.figure import Figure

from chats.models import Chat, Notification

from .models import ChatFirstReply, DailyCount, FillState, HourlyCount, UserDayActivity
from .report_files import LATEST, latest_report, load_table  # noqa: F401 (re-exported)
from .stats import HourlyStat, all_stats, hourly_stat_names
from .timeutil import HOUR, floor_time

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
STAMP_RE = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
DAILY_STATS = [
    "active_users_1d",
    "active_users_7d",
    "active_users_30d",
    "messages_sent",
    "new_users",
]
CHARTS = ["messages_per_hour.png", "active_users.png", "busiest_chats.png", "hour_of_week.png"]


# --- the tables ------------------------------------------------------------------------------


def report_range(now: datetime, days: int) -> tuple[datetime, datetime]:
    """[start, end): end is the earliest `filled_until` of the hourly statistics (where every
    count is final), start is `days` whole days before end's day."""
    filled = FillState.objects.filter(stat__in=hourly_stat_names()).values_list(
        "filled_until", flat=True
    )
    end = min(filled, default=None) or floor_time(now, HOUR)
    end = min(end, floor_time(now, HOUR))
    start = floor_time(end, timedelta(days=1)) - timedelta(days=days)
    return start, end


def _hours(start: datetime, end: datetime) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="h", inclusive="left", tz=UTC, name="hour", unit="us")


def _utc(values: pd.Series) -> pd.Series:
    """Aware UTC timestamps at the database's resolution, microseconds. pandas 3 infers the
    unit from the values: an empty or all-null column would be seconds (milliseconds in Parquet),
    so a table's Parquet schema would depend on whether it had rows."""
    return pd.to_datetime(values, utc=True).dt.as_unit("us")


def _hourly_totals() -> list[str]:
    """The hourly statistics that are totals (not per chat), in declaration order: a statistic
    declared in metrics.stats joins the `hourly` table without a second list here."""
    return [
        name
        for name, stat in all_stats().items()
        if isinstance(stat, HourlyStat) and not stat.by_chat
    ]


def hourly_table(start: datetime, end: datetime) -> pd.DataFrame:
    """Every (hour, stat) of the range, zeros included (the counts store only non-zero rows)."""
    stats = _hourly_totals()
    rows = HourlyCount.objects.filter(
        chat_id__isnull=True, stat__in=stats, hour__gte=start, hour__lt=end
    ).values_list("hour", "stat", "value")
    found = pd.DataFrame(list(rows), columns=["hour", "stat", "value"])
    found["hour"] = _utc(found["hour"])
    grid = pd.MultiIndex.from_product([_hours(start, end), stats], names=["hour", "stat"])
    table = found.set_index(["hour", "stat"])["value"].reindex(grid, fill_value=0).reset_index()
    return table.astype({"stat": "str", "value": "int64"})


def chat_hourly_table(start: datetime, end: datetime) -> pd.DataFrame:
    rows = HourlyCount.objects.filter(
        stat="messages_sent_by_chat", hour__gte=start, hour__lt=end
    ).values_list("hour", "chat_id", "value")
    table = pd.DataFrame(list(rows), columns=["hour", "chat_id", "messages"])
    table["hour"] = _utc(table["hour"])
    return table.sort_values(["hour", "chat_id"], ignore_index=True).astype(
        {"chat_id": "int64", "messages": "int64"}
    )


def daily_table(hourly: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Active users per window from DailyCount; messages and new users summed from the hours."""
    last_day = (end - timedelta(seconds=1)).date() if end > start else start.date()
    days = pd.date_range(start.date(), last_day, freq="D").date
    filled = {
        stat: until.date()
        for stat, until in FillState.objects.filter(stat__startswith="active_users_").values_list(
            "stat", "filled_until"
        )
    }
    found = {
        (day, stat): value
        for day, stat, value in DailyCount.objects.filter(
            stat__startswith="active_users_", day__gte=start.date(), day__lte=last_day
        ).values_list("day", "stat", "value")
    }
    sums = hourly.assign(day=hourly["hour"].dt.date).pivot_table(
        index="day", columns="stat", values="value", aggfunc="sum", fill_value=0
    )
    whole_days = {
        day
        for day in days
        if datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=1) <= end
    }
    records = []
    for day in days:
        for stat in DAILY_STATS:
            if stat.startswith("active_users_"):
                if day >= filled.get(stat, date.min):
                    continue  # not computed yet: absent rather than a false zero
                value = found.get((day, stat), 0)
            else:
                if day not in whole_days:
                    continue
                value = int(sums[stat].get(day, 0)) if stat in sums else 0
            records.append((day, stat, value))
    return pd.DataFrame(records, columns=["day", "stat", "value"]).astype({"value": "int64"})


def chats_table(end: datetime) -> pd.DataFrame:
    """Every chat with its member count and messages (last day before `end`, and ever)."""
    chats = pd.DataFrame(
        list(
            Chat.objects.annotate(members=Count("memberships"))
            .order_by("id")
            .values_list("id", "title", "created_at", "members")
        ),
        columns=["chat_id", "title", "created_at", "members"],
    )
    by_chat = HourlyCount.objects.filter(stat="messages_sent_by_chat", hour__lt=end).values(
        "chat_id"
    )
    total = dict(by_chat.annotate(n=Sum("value")).values_list("chat_id", "n"))
    last_day = dict(
        by_chat.filter(hour__gte=end - timedelta(days=1))
        .annotate(n=Sum("value"))
        .values_list("chat_id", "n")
    )
    chats["created_at"] = _utc(chats["created_at"])
    chats["messages_last_day"] = chats["chat_id"].map(last_day).fillna(0)
    chats["messages_total"] = chats["chat_id"].map(total).fillna(0)
    return chats.astype(
        {
            "chat_id": "int64",
            "title": "str",
            "members": "int64",
            "messages_last_day": "int64",
            "messages_total": "int64",
        }
    )


def users_table() -> pd.DataFrame:
    rows = get_user_model().objects.order_by("id").values_list("id", "date_joined")
    users = pd.DataFrame(list(rows), columns=["user_id", "date_joined"])
    users["date_joined"] = _utc(users["date_joined"])
    return users.astype({"user_id": "int64"})


def user_day_activity_table(start: datetime, end: datetime) -> pd.DataFrame:
    rows = (
        UserDayActivity.objects.filter(day__gte=start.date(), day__lt=end.date())
        .order_by("day", "user_id")
        .values_list("user_id", "day", "messages")
    )
    return pd.DataFrame(list(rows), columns=["user_id", "day", "messages"]).astype(
        {"user_id": "int64", "messages": "int64"}
    )


def first_replies_table() -> pd.DataFrame:
    rows = ChatFirstReply.objects.order_by("chat_id").values_list(
        "chat_id", "first_message_at", "first_reply_at"
    )
    table = pd.DataFrame(list(rows), columns=["chat_id", "first_message_at", "first_reply_at"])
    for column in ("first_message_at", "first_reply_at"):
        table[column] = _utc(table[column])
    return table.astype({"chat_id": "int64"})


def notifications_table(start: datetime) -> pd.DataFrame:
    """Emails created since `start` (the outbox table itself: small, and not messages)."""
    rows = (
        Notification.objects.filter(created_at__gte=start)
        .order_by("id")
        .values_list("id", "event", "status", "attempts", "created_at", "done_at", "last_error")
    )
    columns = [
        "notification_id",
        "event",
        "status",
        "attempts",
        "created_at",
        "done_at",
        "last_error",
    ]
    table = pd.DataFrame(list(rows), columns=columns)
    for column in ("created_at", "done_at"):
        table[column] = _utc(table[column])
    return table.astype(
        {"notification_id": "int64", "attempts": "int64", "event": "str", "status": "str"}
    )


def build_tables(start: datetime, end: datetime) -> dict[str, pd.DataFrame]:
    hourly = hourly_table(start, end)
    return {
        "hourly": hourly,
        "chat_hourly": chat_hourly_table(start, end),
        "daily": daily_table(hourly, start, end),
        "chats": chats_table(end),
        "users": users_table(),
        "user_day_activity": user_day_activity_table(start, end),
        "first_replies": first_replies_table(),
        "notifications": notifications_table(start),
    }


# --- the charts ------------------------------------------------------------------------------


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)


def chart_messages_per_hour(hourly: pd.DataFrame, end: datetime, path: Path) -> None:
    week = hourly[(hourly["stat"] == "messages_sent") & (hourly["hour"] >= end - timedelta(days=7))]
    figure = Figure(figsize=(10, 3.5))
    axes = figure.subplots()
    axes.plot(week["hour"], week["value"], color="#2b6cb0", linewidth=1)
    axes.fill_between(week["hour"], week["value"], color="#2b6cb0", alpha=0.2)
    axes.set_title("Messages per hour, last 7 days (UTC)")
    axes.set_ylabel("messages")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    _save(figure, path)


def chart_active_users(daily: pd.DataFrame, path: Path) -> None:
    figure = Figure(figsize=(10, 3.5))
    axes = figure.subplots()
    for stat, label in [
        ("active_users_1d", "daily"),
        ("active_users_7d", "7-day"),
        ("active_users_30d", "30-day"),
    ]:
        rows = daily[daily["stat"] == stat]
        axes.plot(pd.to_datetime(rows["day"]), rows["value"], marker=".", label=label)
    axes.set_title("Active users (sent at least one message)")
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    _save(figure, path)


def chart_busiest_chats(chat_hourly: pd.DataFrame, chats: pd.DataFrame, path: Path) -> None:
    totals = chat_hourly.groupby("chat_id")["messages"].sum().nlargest(10)
    titles = chats.set_index("chat_id")["title"]
    labels = [
        f"{str(titles.get(chat_id, ''))[:30] or 'chat'} (#{chat_id})" for chat_id in totals.index
    ]
    figure = Figure(figsize=(8, 4))
    axes = figure.subplots()
    axes.barh(labels[::-1], totals.to_numpy()[::-1], color="#dd6b20")
    axes.set_title("Busiest chats in the report's range")
    axes.set_xlabel("messages")
    _save(figure, path)


def chart_hour_of_week(hourly: pd.DataFrame, path: Path) -> None:
    messages = hourly[hourly["stat"] == "messages_sent"]
    grid = (
        messages.assign(
            weekday=messages["hour"].dt.day_of_week, hour_of_day=messages["hour"].dt.hour
        )
        .pivot_table(index="weekday", columns="hour_of_day", values="value", aggfunc="sum")
        .reindex(index=range(7), columns=range(24), fill_value=0)
        .fillna(0)
    )
    figure = Figure(figsize=(10, 3.5))
    axes = figure.subplots()
    image = axes.imshow(grid.to_numpy(), aspect="auto", cmap="viridis")
    axes.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    axes.set_xticks(range(0, 24, 3))
    axes.set_xlabel("hour of day (UTC)")
    axes.set_title("Messages by hour of week")
    figure.colorbar(image, ax=axes, label="messages")
    _save(figure, path)


# --- the HTML summary --------------------------------------------------------------------------


def _summary(tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    hourly, daily = tables["hourly"], tables["daily"]

    def last(stat: str) -> int:
        rows = daily[daily["stat"] == stat]
        return int(rows["value"].iloc[-1]) if len(rows) else 0

    return {
        "Messages in the range": int(hourly.loc[hourly["stat"] == "messages_sent", "value"].sum()),
        "New users in the range": int(hourly.loc[hourly["stat"] == "new_users", "value"].sum()),
        "Active users, last full day": last("active_users_1d"),
        "Active users, 7 days": last("active_users_7d"),
        "Active users, 30 days": last("active_users_30d"),
        "Chats": len(tables["chats"]),
        "Users": len(tables["users"]),
    }


def render_index(manifest: dict, tables: dict[str, pd.DataFrame]) -> str:
    esc = html.escape
    numbers = "".join(
        f"<tr><th>{esc(label)}</th><td>{value:,}</td></tr>"
        for label, value in _summary(tables).items()
    )
    busiest = tables["chats"].nlargest(10, "messages_last_day")
    busiest_rows = "".join(
        f"<tr><td>{esc(str(row.title))}</td><td>{row.members}</td>"
        f"<td>{row.messages_last_day:,}</td><td>{row.messages_total:,}</td></tr>"
        for row in busiest.itertuples()
    )
    charts = "".join(
        f'<figure><img src="{esc(name)}" alt="{esc(name)}"></figure>' for name in manifest["charts"]
    )
    table_rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{info['rows']:,}</td>"
        f'<td><a href="{esc(name)}.csv">CSV</a> · '
        f'<a href="{esc(name)}.parquet">Parquet</a></td></tr>'
        for name, info in manifest["tables"].items()
    )
    start, end = manifest["range"]["start"], manifest["range"]["end"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat Platform activity report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}img{{max-width:100%}}</style>
</head><body>
<h1>Activity report</h1>
<p>Generated {esc(manifest["generated_at"])}; counts from {esc(start)} to {esc(end)} (UTC).</p>
<h2>Summary</h2><table>{numbers}</table>
<h2>Busiest chats, last day</h2>
<table><tr><th>Chat</th><th>Members</th><th>Messages, last day</th><th>Messages, total</th></tr>
{busiest_rows}</table>
<h2>Charts</h2>{charts}
<h2>Tables</h2><table><tr><th>Table</th><th>Rows</th><th>Files</th></tr>{table_rows}</table>
</body></html>
"""


# --- writing, pointing, pruning ----------------------------------------------------------------


def _write_folder(folder: Path, tables: dict[str, pd.DataFrame], manifest: dict) -> None:
    for name, table in tables.items():
        table.to_parquet(folder / f"{name}.parquet", index=False)
        table.to_csv(folder / f"{name}.csv", index=False)
        manifest["tables"][name] = {"rows": len(table), "columns": list(table.columns)}
    end = datetime.fromisoformat(manifest["range"]["end"])
    chart_messages_per_hour(tables["hourly"], end, folder / CHARTS[0])
    chart_active_users(tables["daily"], folder / CHARTS[1])
    chart_busiest_chats(tables["chat_hourly"], tables["chats"], folder / CHARTS[2])
    chart_hour_of_week(tables["hourly"], folder / CHARTS[3])
    manifest["charts"] = list(CHARTS)
    (folder / "index.html").write_text(render_index(manifest, tables), encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def point_latest(reports_dir: Path, folder: Path) -> None:
    """Replace the `latest` symlink atomically (a new link renamed over the old one)."""
    temporary = reports_dir / f".{LATEST}-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(folder.name)  # relative: the folder can move with its parent
    os.replace(temporary, reports_dir / LATEST)


def prune_reports(reports_dir: Path, now: datetime, retention_days: int) -> list[str]:
    """Delete report folders older than the retention, and abandoned temporary folders."""
    keep = latest_report(reports_dir)
    cutoff = now - timedelta(days=retention_days)
    removed = []
    for path in reports_dir.iterdir():
        if path.is_symlink() or not path.is_dir() or (keep is not None and path.resolve() == keep):
            continue
        if STAMP_RE.match(path.name):
            stamp = datetime.strptime(path.name[:16], STAMP_FORMAT).replace(tzinfo=UTC)
            if stamp < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        elif path.name.startswith(".tmp-") and path.stat().st_mtime < time.time() - 3600:
            shutil.rmtree(path, ignore_errors=True)  # a run that died mid-write
            removed.append(path.name)
    return sorted(removed)


def make_report(
    now: datetime | None = None,
    reports_dir: Path | str | None = None,
    days: int | None = None,
    retention_days: int | None = None,
) -> Path:
    """Write one complete report folder, point `latest` at it, prune old ones; return it."""
    now = (now or timezone.now()).astimezone(UTC)
    reports_dir = Path(reports_dir or settings.REPORTS_DIR)
    reports_dir.mkdir(parents=True, exist_ok=True)
    start, end = report_range(now, days or settings.REPORTS_RANGE_DAYS)
    tables = build_tables(start, end)
    manifest = {
        "version": 1,
        "generated_at": now.isoformat(),
        "range": {"start": start.isoformat(), "end": end.isoformat()},
        "tables": {},
        "charts": [],
    }
    stamp = now.strftime(STAMP_FORMAT)
    temporary = Path(reports_dir / f".tmp-{stamp}-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        _write_folder(temporary, tables, manifest)
        folder, n = reports_dir / stamp, 0
        while True:
            try:
                temporary.rename(folder)  # fails if the folder exists (same second): next name
                break
            except OSError:
                if not folder.exists():
                    raise
                n += 1
                folder = reports_dir / f"{stamp}-{n}"
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    point_latest(reports_dir, folder)
    prune_reports(
        reports_dir,
        now,
        settings.REPORTS_RETENTION_DAYS if retention_days is None else retention_days,
    )
    return folder
