"""Reports reach now: the hour and day in progress are in the tables, marked partial, drawn
apart in the charts and named on the page."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from chats.models import Message
from metrics import fill
from metrics.reports.charts import (
    PARTIAL_LABEL,
    active_users_figure,
    messages_per_hour_figure,
)
from metrics.reports.folders import load_table
from metrics.reports.make import make_report

from .support import Activity, at, hm

D1 = date(2025, 3, 4)


def legend_labels(figure: Figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


@pytest.fixture
def in_progress(activity: Activity, tmp_path: Path) -> Path:
    """A report at 26:30: hour 26 so far holds 26:10 and 26:20 (26:50 is not sent yet)."""
    Message.objects.filter(created_at=hm(26, 50)).delete()
    fill.fill_activity_counts(now=hm(26, 30))
    return make_report(now=hm(26, 30), reports_dir=tmp_path, days=2)


def test_the_hour_in_progress_is_in_the_tables_marked_partial(
    in_progress: Path, activity: Activity
) -> None:
    manifest = json.loads((in_progress / "manifest.json").read_text())
    assert manifest["range"] == {
        "start": "2025-03-02T00:00:00+00:00",
        "end": "2025-03-04T02:30:00+00:00",
        "partial_from": "2025-03-04T02:00:00+00:00",
    }
    hourly = load_table(in_progress, "hourly")
    sent = hourly[hourly["stat"] == "messages_sent"].set_index("hour")
    assert sent.loc[pd.Timestamp(at(26)), ["value", "partial"]].tolist() == [2, True]
    assert sent.loc[pd.Timestamp(at(25)), ["value", "partial"]].tolist() == [0, False]
    assert sent.index.max() == pd.Timestamp(at(26))
    chat_hourly = load_table(in_progress, "chat_hourly")
    assert chat_hourly.loc[chat_hourly["partial"], ["chat_id", "messages"]].values.tolist() == [
        [activity.chat_b.pk, 2]
    ]
    daily = load_table(in_progress, "daily").set_index(["day", "stat"])
    assert daily.loc[(D1, "messages_sent"), ["value", "partial"]].tolist() == [2, True]
    assert daily.loc[(D1, "active_users_1d"), ["value", "partial"]].tolist() == [2, True]
    assert daily.loc[(date(2025, 3, 3), "active_users_1d"), "partial"].item() is False


def test_the_page_says_which_period_is_partial(in_progress: Path) -> None:
    html = (in_progress / "index.html").read_text()
    assert "hourly counts from 2025-03-04T02:00:00+00:00 on are the hour in progress" in html
    assert "daily counts of 2025-03-04 (from 00:00 UTC) the day in progress" in html
    assert "recomputed every minute until the period ends" in html
    # The headline active users are the last full day's (day 0: alice and bob), not today's.
    assert "<th>Active users, last full day</th><td>2</td>" in html


def test_once_the_hour_is_over_its_rows_are_final(activity: Activity, tmp_path: Path) -> None:
    Message.objects.filter(created_at=hm(26, 50)).delete()
    fill.fill_activity_counts(now=hm(26, 30))
    fill.fill_activity_counts(now=hm(27, 5))
    report = make_report(now=hm(27, 5), reports_dir=tmp_path, days=2)
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["range"]["partial_from"] == at(27).isoformat()
    hourly = load_table(report, "hourly")
    sent = hourly[hourly["stat"] == "messages_sent"].set_index("hour")
    assert sent.loc[pd.Timestamp(at(26)), ["value", "partial"]].tolist() == [2, False]
    assert sent.loc[pd.Timestamp(at(27)), "partial"].item() is True


@pytest.mark.django_db
def test_a_report_before_any_fill_has_nothing_partial(tmp_path: Path) -> None:
    report = make_report(now=hm(26, 30), reports_dir=tmp_path, days=2)
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["range"]["partial_from"] is None
    assert not load_table(report, "hourly")["partial"].any()
    assert "Partial:" not in (report / "index.html").read_text()


def hours(values: list[int], partial_last: bool) -> pd.DataFrame:
    """An `hourly` table of messages_sent over the last len(values) hours before at(26)."""
    stamps = pd.date_range(end=at(25), periods=len(values), freq="h")
    return pd.DataFrame(
        {
            "hour": stamps,
            "stat": "messages_sent",
            "value": values,
            "partial": [partial_last and i == len(values) - 1 for i in range(len(values))],
        }
    )


def hatched_bar_heights(figure: Figure) -> list[float]:
    return [bar.get_height() for bar in figure.axes[0].patches if bar.get_hatch()]


def test_the_messages_chart_draws_a_partial_last_hour_apart() -> None:
    values = [3, 5, 2, 4, 6, 1]
    with_partial = messages_per_hour_figure(hours(values, True), at(26))
    without = messages_per_hour_figure(hours(values, False), at(26))
    assert legend_labels(with_partial) == ["messages", PARTIAL_LABEL]
    assert hatched_bar_heights(with_partial) == [1]  # the last hour, as counted so far
    assert legend_labels(without) == ["messages"]
    assert hatched_bar_heights(without) == []


def test_the_active_users_chart_marks_the_day_in_progress() -> None:
    daily = pd.DataFrame(
        {
            "day": [date(2025, 3, 3), D1] * 3,
            "stat": ["active_users_1d"] * 2 + ["active_users_7d"] * 2 + ["active_users_30d"] * 2,
            "value": [2, 1, 2, 3, 2, 3],
            "partial": [False, True] * 3,
        }
    )
    assert legend_labels(active_users_figure(daily)) == [
        "daily",
        "7-day",
        "30-day",
        PARTIAL_LABEL,
    ]
    final = daily.assign(partial=False)
    assert PARTIAL_LABEL not in legend_labels(active_users_figure(final))
