"""The chat-activity gauges of the past, as an OpenMetrics file Prometheus can import.

A Prometheus started after the demo was seeded (chats.demo) would show weeks of history in the
reports but a blank Chat activity dashboard. `history_lines` recomputes, from the raw tables, what
the web app's /metrics would have exported every `step` over the history, by the definitions
of metrics.selectors, imported from there (LAST_HOUR, the UTC days of an active-users window,
the busiest chats of LAST_DAY ranked by `rank_chats`), here for many moments in one pass over
the rows where the selectors answer for one `now`. So the imported series end at the values the
live app reports next. scripts/run-prometheus.sh imports the file once with
`promtool tsdb create-blocks-from openmetrics` into an empty data folder.

Only numbers the raw rows determine are written. The statistics jobs' success times and
durations, the snapshot's age, the outbox and queue gauges, Flower's, Centrifugo's and the
workers' series describe processes that did not run then: they start empty (docs/monitoring.md).
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model

from chats.models import Chat, Message
from metrics import contract
from metrics.selectors import LAST_DAY, LAST_HOUR, TOP_CHATS, active_window, rank_chats
from metrics.timeutil import day_start

from .prometheus import PREFIX


def _labels(labels: dict[str, str]) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return "{" + inner + "}"


def _times(column: list[datetime]) -> list[float]:
    return sorted(moment.timestamp() for moment in column)


def history_lines(
    start: datetime, end: datetime, step: timedelta, job: str, instance: str
) -> Iterator[str]:
    """OpenMetrics text (with `# EOF`): one sample per `step` from `start` and one at `end`, each
    series labelled `job` and `instance` as the scrape of the web app labels it."""
    moments = []
    moment = start
    while moment < end:
        moments.append(moment)
        moment += step
    moments.append(end)  # the last sample is the present: what the live app reports next
    users = _times(get_user_model().objects.values_list("date_joined", flat=True))
    chats = _times(Chat.objects.values_list("created_at", flat=True))
    messages = list(
        Message.objects.filter(created_at__lt=end)  # no sample counts a later one
        .order_by("created_at")
        .values_list("created_at", "chat_id", "author_id")
    )
    message_times = [row[0].timestamp() for row in messages]
    base = {"job": job, "instance": instance}
    series: dict[tuple[str, str], list[str]] = {}

    def add(name: str, labels: dict[str, str], at: datetime, value: float) -> None:
        key = (name, _labels({**base, **labels}))
        series.setdefault(key, []).append(f"{name}{key[1]} {value} {at.timestamp():.3f}")

    # Authors per UTC day with the time of their first message that day: the active users.
    first_of_day: dict[object, dict[int, float]] = {}
    for at, _, author in messages:
        if author is not None:
            first_of_day.setdefault(at.astimezone(UTC).date(), {}).setdefault(
                author, at.timestamp()
            )
    last_day: deque[tuple[float, int]] = deque()  # (time, chat) of the last 24 hours
    per_chat: Counter[int] = Counter()
    day_in = 0
    for moment in moments:
        now = moment.timestamp()
        add(f"{PREFIX}_users", {}, moment, bisect.bisect_right(users, now))
        add(f"{PREFIX}_chats", {}, moment, bisect.bisect_right(chats, now))
        sent = bisect.bisect_left(message_times, now)
        add(f"{PREFIX}_messages_total", {}, moment, sent)
        hour_ago = bisect.bisect_left(message_times, now - LAST_HOUR.total_seconds())
        add(f"{PREFIX}_messages_last_hour", {}, moment, sent - hour_ago)
        day_ago = now - LAST_DAY.total_seconds()
        add(
            f"{PREFIX}_new_users_last_day",
            {},
            moment,
            bisect.bisect_right(users, now) - bisect.bisect_left(users, day_ago),
        )
        for window in (1, 7, 30):
            active: set[int] = set()
            for day in active_window(moment, window):
                active.update(a for a, first in first_of_day.get(day, {}).items() if first < now)
            add(f"{PREFIX}_active_users", {"window": f"{window}d"}, moment, len(active))
        while day_in < sent:  # the busiest chats of [now - 24 h, now)
            last_day.append((message_times[day_in], messages[day_in][1]))
            per_chat[messages[day_in][1]] += 1
            day_in += 1
        while last_day and last_day[0][0] < day_ago:
            _, chat = last_day.popleft()
            per_chat[chat] -= 1
        for rank, (_, n) in enumerate(rank_chats(per_chat, TOP_CHATS), start=1):
            add(f"{PREFIX}_top_chat_messages_last_day", {"rank": str(rank)}, moment, n)
    docs = {f"{PREFIX}_{family.name}": family for family in contract.families()}
    by_family: dict[str, list[list[str]]] = {}  # OpenMetrics wants a family's series together
    for (name, _), lines in series.items():
        by_family.setdefault(name.removesuffix("_total"), []).append(lines)
    for family, all_lines in by_family.items():
        declared = docs.get(family)
        kind = "counter" if declared is not None and declared.counter else "gauge"
        yield f"# TYPE {family} {kind}"
        if declared is not None:
            yield f"# HELP {family} {declared.doc}"
        for lines in all_lines:
            yield from lines
    yield "# EOF"


def history_range(end: datetime, days: int) -> tuple[datetime, datetime] | None:
    """[first raw row, end], at most `days` back (None: no users yet, nothing to export)."""
    first = (
        get_user_model().objects.order_by("date_joined").values_list("date_joined", flat=True)
    ).first()  # one row, not every user's
    if first is None:
        return None
    return max(first, day_start(end.astimezone(UTC).date()) - timedelta(days=days)), end
