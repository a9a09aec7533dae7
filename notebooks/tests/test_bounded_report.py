"""A report costs what its range holds (issue 24): the accounts, chats and first replies of long
before the range are in none of its tables, yet every total a user reads still counts them.

Timeline (the report: 30 days, [02-16, 03-18 00:07); NOW as in test_render):

    long ago  01-17: 100 accounts old0..old99, each creating a chat with a message answered by
              the next account (100 first replies), all 60 days before the report's end
    in range  03-10: `new` joins and creates Fresh (members: new, old0), old0 answers there;
              03-11: old0 writes again in its own chat "Old 0", created long ago
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from chats.models import Chat, Membership, Message, Role
from core import tallies
from metrics import fill
from metrics.reports.folders import load_table
from metrics.reports.make import make_report
from notebooks.analysis import activity, reading

User = get_user_model()
NOW = datetime(2025, 3, 18, 0, 7, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=60)
OLD = 100


def chat_with_owner(title: str, owner: User, created_at: datetime) -> Chat:
    chat = Chat.objects.create(title=title, created_by=owner, created_at=created_at)
    Membership.objects.create(chat=chat, user=owner, role=Role.OWNER, joined_at=created_at)
    return chat


def say(chat: Chat, author: User, moment: datetime) -> None:
    Message.objects.create(chat=chat, author=author, text="hi", created_at=moment)


@pytest.mark.django_db
def test_the_report_lists_its_range_and_still_counts_what_came_before(tmp_path: Path) -> None:
    old = [User.objects.create(username=f"old{i}", date_joined=LONG_AGO) for i in range(OLD)]
    old_chats = []
    for i, owner in enumerate(old):
        chat = chat_with_owner(f"Old {i}", owner, LONG_AGO)
        say(chat, owner, LONG_AGO + timedelta(minutes=5))
        say(chat, old[(i + 1) % OLD], LONG_AGO + timedelta(minutes=10))  # its first reply
        old_chats.append(chat)
    new = User.objects.create(username="new", date_joined=datetime(2025, 3, 10, 9, tzinfo=UTC))
    fresh = chat_with_owner("Fresh", new, datetime(2025, 3, 10, 9, 5, tzinfo=UTC))
    Membership.objects.create(chat=fresh, user=old[0])
    say(fresh, new, datetime(2025, 3, 10, 9, 6, tzinfo=UTC))
    say(fresh, old[0], datetime(2025, 3, 10, 9, 16, tzinfo=UTC))
    say(old_chats[0], old[0], datetime(2025, 3, 11, 12, tzinfo=UTC))
    fill.fill_activity_counts(until=NOW)

    report = make_report(now=NOW, reports_dir=tmp_path, days=30)

    # The tables: only the range's accounts, chats and first replies.
    users = load_table(report, "users")
    assert users["user_id"].tolist() == [new.pk]
    chats = load_table(report, "chats").set_index("chat_id")
    assert chats.index.tolist() == [old_chats[0].pk, fresh.pk]  # "Old 0" for its message
    assert chats.loc[fresh.pk, ["members", "messages_in_range"]].tolist() == [2, 2]
    assert chats.loc[old_chats[0].pk, ["members", "messages_in_range"]].tolist() == [1, 1]
    assert load_table(report, "first_replies")["chat_id"].tolist() == [fresh.pk]
    assert set(load_table(report, "chat_hourly")["chat_id"]) == {old_chats[0].pk, fresh.pk}

    # What came before is counted, not listed.
    manifest = reading.load_manifest(report)
    assert manifest["before_range"] == {"users": OLD, "chats": OLD}
    assert manifest["tables"]["users"]["rows"] == 1

    # The page's totals are every account and chat, as the running totals say.
    html = (report / "index.html").read_text()
    assert tallies.values(["users", "chats"]) == {"users": OLD + 1, "chats": OLD + 1}
    assert f"<th>Users</th><td>{OLD + 1}</td>" in html
    assert f"<th>Chats</th><td>{OLD + 1}</td>" in html
    assert "<th>New users in the range</th><td>1</td>" in html

    # The Activity notebook's growth curve starts from what existed before the range.
    start, end = reading.analysis_range(manifest)
    tables = reading.load_report(report, ["hourly", "daily", "chat_hourly", "chats", "users"])
    before = reading.before_range(manifest)
    grown = activity.growth(tables["users"], tables["chats"], start, end, before)
    assert grown.iloc[0].tolist() == [OLD, OLD]  # 02-16: the old ones only
    assert grown.iloc[-1].tolist() == [OLD + 1, OLD + 1]
    summary = activity.summary(tables, start, end, before)
    assert (summary["users_at_end"], summary["users_new"]) == (OLD + 1, 1)
    assert (summary["chats_at_end"], summary["chats_new"]) == (OLD + 1, 1)
    # A sub-range of the report: from 03-11 on, Fresh and `new` were already there.
    start, end = reading.analysis_range(manifest, "2025-03-11", "2025-03-12")
    summary = activity.summary(tables, start, end, before)
    assert (summary["users_at_end"], summary["users_new"]) == (OLD + 1, 0)
    assert summary["top_chat"]["title"] == "Old 0"
