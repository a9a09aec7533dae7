"""The Task health notebook's computations (notebooks/analysis/task_health.py) on small tables
whose answers are worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from notebooks.analysis import task_health

from .support import END, START, utc


@pytest.fixture
def notifications() -> pd.DataFrame:
    rows = [
        (1, "member_added", "sent", 1, "2025-03-04 12:00:00", "2025-03-04 12:00:02", ""),
        (2, "member_added", "sent", 2, "2025-03-04 12:10:00", "2025-03-04 12:10:10", ""),
        (3, "member_removed", "failed", 6, "2025-03-04 12:20:00", "2025-03-04 12:25:00", "550"),
        (4, "chat_deleted", "sent", 1, "2025-03-04 13:05:00", "2025-03-04 13:05:01", ""),
        (5, "member_added", "pending", 0, "2025-03-04 13:30:00", None, ""),
        (6, "member_added", "failed", 6, "2025-03-01 13:30:00", "2025-03-01 13:40:00", "x"),
    ]
    columns = ["notification_id", "event", "status", "attempts", "created_at", "done_at"]
    frame = pd.DataFrame(rows, columns=[*columns, "last_error"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["done_at"] = pd.to_datetime(frame["done_at"], utc=True)
    return frame


def test_delivery_summary_latency_and_failure_rate(notifications: pd.DataFrame) -> None:
    summary = task_health.delivery_summary(notifications, START, END)
    # Latencies of the sent emails: 2, 10, 1 s. p90 of [1, 2, 10]: 2 + 0.8 * 8 = 8.4.
    assert {k: summary[k] for k in summary if k != "by_event"} == {
        "emails": 5,
        "sent": 3,
        "failed": 1,
        "cancelled": 0,
        "waiting": 1,
        "failure_rate": 0.25,
        "latency_median_s": 2.0,
        "latency_p90_s": 8.4,
        "latency_max_s": 10.0,
        "retried": 2,
    }
    assert summary["by_event"]["member_removed"] == {
        "emails": 1,
        "failed": 1,
        "failure_rate": 1.0,
    }
    assert summary["by_event"]["member_added"]["failure_rate"] == 0.0


def test_hourly_health_and_worst_hours(notifications: pd.DataFrame) -> None:
    health = task_health.hourly_health(notifications, START, END)
    assert health.index.tolist() == [utc("2025-03-04 12:00"), utc("2025-03-04 13:00")]
    noon, one = health.iloc[0], health.iloc[1]
    assert (noon["emails"], noon["failed"]) == (3, 1)
    assert noon["failure_rate"] == pytest.approx(1 / 3)
    assert noon["latency_p90_s"] == pytest.approx(9.2)  # [2, 10]: 2 + 0.9 * 8
    # At 13h one email is still pending: it has no outcome, so the rate is 0 of 1, not of 2.
    assert (one["emails"], one["failed"], one["failure_rate"], one["latency_p90_s"]) == (
        2,
        0,
        0.0,
        1.0,
    )
    assert task_health.worst_hours(health, n=1).index.tolist() == [utc("2025-03-04 12:00")]

    summary = task_health.summary({"notifications": notifications}, START, END)
    assert summary["worst_hours"][0]["hour"] == "2025-03-04T12:00:00+00:00"
    text = task_health.conclusion(summary)
    assert "**5 emails** queued: 3 sent, 1 failed, 1 still waiting" in text
    assert "failure rate **25.0%**" in text and "8.4 s at p90" in text
    assert "worst hour was 2025-03-04 12:00 UTC: 1 of 3 failed, p90 latency 9.2 s" in text
