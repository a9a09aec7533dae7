"""The report's charts: PNGs drawn from its tables with matplotlib's Figure API.

No pyplot: it keeps every figure in a global registry until closed and picks a display
backend; a worker has no display, and a figure here is dropped with its last reference.

The period still being counted (rows whose `partial` column is True) is drawn apart and
labelled "partial" in the legend (a lighter, hatched bar for the hour; a hollow marker on a
dashed segment for the day): its numbers grow until the hour or day ends.

Chat titles are user input: every chart is built and saved under `usertext.literal_text()`
(no TeX), and one that still fails is logged and left out, so the report's other files are
written whatever a title holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from .transforms import busiest_chats, hour_of_week
from .usertext import chat_label, literal_text

logger = logging.getLogger(__name__)
PARTIAL_LABEL = "partial (in progress, recomputed until it ends)"


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)


def messages_per_hour_figure(hourly: pd.DataFrame, end: datetime) -> Figure:
    """The last 7 days hour by hour: the range's tail is what an operator looks at first; the
    hours in progress continue the line lighter and hatched."""
    week = hourly[(hourly["stat"] == "messages_sent") & (hourly["hour"] >= end - timedelta(days=7))]
    final, partial = week[~week["partial"]], week[week["partial"]]
    figure = Figure(figsize=(10, 3.5))
    axes = figure.subplots()
    axes.plot(final["hour"], final["value"], color="#2b6cb0", linewidth=1, label="messages")
    axes.fill_between(final["hour"], final["value"], color="#2b6cb0", alpha=0.2)
    if len(partial):
        joined = pd.concat([final.tail(1), partial])  # the partial line starts where final ends
        axes.plot(joined["hour"], joined["value"], color="#90cdf4", linewidth=1, linestyle="--")
        axes.bar(
            partial["hour"],
            partial["value"],
            width=timedelta(hours=1),
            align="edge",
            color="#bee3f8",
            edgecolor="#2b6cb0",
            hatch="//",
            label=PARTIAL_LABEL,
        )
    axes.set_title("Messages per hour, last 7 days (UTC)")
    axes.set_ylabel("messages")
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return figure


def active_users_figure(daily: pd.DataFrame) -> Figure:
    """Daily, 7-day and 30-day active users on one axis, so their ratio shows; the day in
    progress as a hollow marker on a dashed segment."""
    figure = Figure(figsize=(10, 3.5))
    axes = figure.subplots()
    any_partial = False
    for stat, label in [
        ("active_users_1d", "daily"),
        ("active_users_7d", "7-day"),
        ("active_users_30d", "30-day"),
    ]:
        rows = daily[daily["stat"] == stat]
        final, partial = rows[~rows["partial"]], rows[rows["partial"]]
        (line,) = axes.plot(pd.to_datetime(final["day"]), final["value"], marker=".", label=label)
        if len(partial):
            any_partial = True
            joined = pd.concat([final.tail(1), partial])
            axes.plot(
                pd.to_datetime(joined["day"]),
                joined["value"],
                color=line.get_color(),
                linestyle="--",
                alpha=0.5,
            )
            axes.plot(
                pd.to_datetime(partial["day"]),
                partial["value"],
                linestyle="none",
                marker="o",
                markerfacecolor="white",
                color=line.get_color(),
            )
    if any_partial:  # one legend entry for the hollow markers of every line
        axes.plot(
            [],
            [],
            linestyle="none",
            marker="o",
            markerfacecolor="white",
            color="grey",
            label=PARTIAL_LABEL,
        )
    axes.set_title("Active users (sent at least one message)")
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return figure


def busiest_chats_figure(chat_hourly: pd.DataFrame, chats: pd.DataFrame) -> Figure:
    """The ten chats with the most messages in the report's range (a deleted or untitled one
    labelled "chat", with its id)."""
    busiest = busiest_chats(chat_hourly, chats, n=10, deleted_title="")
    labels = [chat_label(row.title, row.chat_id) for row in busiest.itertuples()]
    figure = Figure(figsize=(8, 4))
    axes = figure.subplots()
    axes.barh(labels[::-1], busiest["messages"].to_numpy()[::-1], color="#dd6b20")
    axes.set_title("Busiest chats in the report's range")
    axes.set_xlabel("messages")
    return figure


def hour_of_week_figure(hourly: pd.DataFrame) -> Figure:
    """Messages per weekday and hour of the day: when the platform is busy."""
    grid = hour_of_week(hourly)
    figure = Figure(figsize=(10, 3.5))
    axes = figure.subplots()
    image = axes.imshow(grid.to_numpy(), aspect="auto", cmap="viridis")
    axes.set_yticks(range(7), list(grid.index))
    axes.set_xticks(range(0, 24, 3))
    axes.set_xlabel("hour of day (UTC)")
    axes.set_title("Messages by hour of week")
    figure.colorbar(image, ax=axes, label="messages")
    return figure


def draw_charts(
    tables: dict[str, pd.DataFrame], end: datetime, folder: Path
) -> tuple[list[str], dict[str, str]]:
    """Draw every chart of a report into `folder`: the file names drawn, in page order, and
    for each chart that failed its error (logged; the others are still drawn)."""
    charts: dict[str, Callable[[], Figure]] = {
        "messages_per_hour.png": lambda: messages_per_hour_figure(tables["hourly"], end),
        "active_users.png": lambda: active_users_figure(tables["daily"]),
        "busiest_chats.png": lambda: busiest_chats_figure(tables["chat_hourly"], tables["chats"]),
        "hour_of_week.png": lambda: hour_of_week_figure(tables["hourly"]),
    }
    drawn: list[str] = []
    failed: dict[str, str] = {}
    for name, build in charts.items():
        try:
            with literal_text():  # built and saved: tick labels are made as it is drawn
                _save(build(), folder / name)
        except Exception as error:  # one chart, not the report: tables and page still written
            logger.exception("chart %s not drawn", name)
            (folder / name).unlink(missing_ok=True)
            failed[name] = f"{type(error).__name__}: {error}"[:500]
        else:
            drawn.append(name)
    return drawn, failed
