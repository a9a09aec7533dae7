"""What the metrics tests share: the fixed times their activity happens at (T0, `at`, `hm`,
SNAPSHOT_AT), the shape of that activity, a dump of every statistics table to compare runs, and a
scrape of GET /metrics with a way to read one value from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from prometheus_client.parser import text_string_to_metric_families

from chats.models import Chat
from metrics.models import ChatFirstReply, DailyCount, HourlyCount, UserDayActivity

User = get_user_model()
T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, 00:00 UTC
SNAPSHOT_AT = T0 + timedelta(hours=26, minutes=55)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def hm(hour: int, minute: int) -> datetime:
    return T0 + timedelta(hours=hour, minutes=minute)


@dataclass
class Activity:
    alice: User
    bob: User
    carol: User
    chat_a: Chat
    chat_b: Chat


def dump() -> dict[str, list[tuple]]:
    """Every statistics row, sorted, for comparing two runs."""
    return {
        "hourly": sorted(HourlyCount.objects.values_list("stat", "chat_id", "hour", "value")),
        "daily": sorted(DailyCount.objects.values_list("stat", "day", "value")),
        "user_days": sorted(UserDayActivity.objects.values_list("user_id", "day", "messages")),
        "first_replies": sorted(
            ChatFirstReply.objects.values_list(
                "chat_id", "first_message_at", "first_author_id", "first_reply_at"
            )
        ),
    }


def scrape(client) -> dict[str, list]:
    # The configured token (.env's, or none): what Prometheus sends.
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_BEARER_TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        family.name: family.samples
        for family in text_string_to_metric_families(response.content.decode())
    }


def value(samples: list, suffix: str = "", **labels: str) -> float:
    """The value of the first sample whose name ends with `suffix` and that has `labels`."""
    return next(
        s.value
        for s in samples
        if s.name.endswith(suffix) and all(s.labels.get(k) == v for k, v in labels.items())
    )
