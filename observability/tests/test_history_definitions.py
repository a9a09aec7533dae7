"""observability.history's past gauges mean what the live selectors mean: at sampled moments of the
demo's history, each value equals what metrics.selectors answers for that `now`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model

from chats import demo
from metrics import selectors
from observability.history import history_lines, history_range
from observability.prometheus import PREFIX

NOW = datetime(2025, 3, 18, 14, 37, tzinfo=UTC)
LINE = re.compile(r"^(\w+)\{([^}]*)\} (\S+) (\S+)$")

pytestmark = pytest.mark.django_db


def samples(start: datetime, end: datetime, step: timedelta) -> dict[tuple, float]:
    """(name, labels without job/instance, timestamp) -> value."""
    found = {}
    for line in history_lines(start, end, step, "web", "web:8000"):
        match = LINE.match(line)
        if match:
            name, labels, value, at = match.groups()
            labels = ",".join(
                p for p in labels.split(",") if not p.startswith(("job=", "instance="))
            )
            found[(name, labels, round(float(at)))] = float(value)
    return found


def test_past_samples_equal_the_selectors_at_that_moment() -> None:
    demo.seed(NOW, "demo-password")
    start, step = NOW - timedelta(days=10, minutes=13), timedelta(hours=37)
    got = samples(start, NOW, step)
    moments = [start + i * step for i in range(7)] + [NOW]
    for moment in moments:
        at = round(moment.timestamp())
        for window in (1, 7, 30):
            key = (f"{PREFIX}_active_users", f'window="{window}d"', at)
            assert got[key] == selectors.active_users(moment, window), (moment, window)
        last_hour = selectors.messages_between(moment - selectors.LAST_HOUR, moment)
        assert got[(f"{PREFIX}_messages_last_hour", "", at)] == last_hour, moment
        top = selectors.top_chats(moment - selectors.LAST_DAY, moment)
        ranks = [
            got.get((f"{PREFIX}_top_chat_messages_last_day", f'rank="{rank}"', at))
            for rank in range(1, selectors.TOP_CHATS + 1)
        ]
        assert ranks[: len(top)] == [chat["messages"] for chat in top], moment
        assert set(ranks[len(top) :]) <= {None}


def test_the_history_starts_at_the_first_user_at_most_days_back() -> None:
    """No users: nothing to export. Otherwise from the first user's join, or `days` whole UTC
    days before `end`'s day when the platform is older."""
    assert history_range(NOW, 30) is None
    demo.seed(NOW, "demo-password")
    first = get_user_model().objects.order_by("date_joined").first().date_joined
    assert history_range(NOW, 3650) == (first, NOW)
    assert history_range(NOW, 2) == (datetime(2025, 3, 16, tzinfo=UTC), NOW)
