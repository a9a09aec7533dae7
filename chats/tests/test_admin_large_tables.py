"""The admin's list pages of the tables that grow (messages, the outbox, the membership log, the
refusals) stay cheap on millions of rows: newest first through the primary key (or the hour's
index), no second count of the whole table, no read of every row's date, and on PostgreSQL a count
that gives up after a moment and shows the planner's estimate instead.

The rows here are few; what is checked is the queries a page makes, and what a staff user sees.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chats import services
from chats.admin import EstimatedCountPaginator
from chats.models import Chat, Membership, MembershipEvent, Message, Notification, Publication
from ratelimits.models import RefusedAttempt, Scope

pytestmark = pytest.mark.django_db

GROWING = [Chat, Membership, Message, MembershipEvent, Notification, Publication]


@pytest.fixture
def admin_client(make_user) -> Client:
    """A superuser's browser session (not pytest-django's: `team` has a user named admin)."""
    client = Client()
    client.force_login(make_user("staff", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def busy(team) -> None:
    """A few rows in every growing table: chats, messages (each a publication), joins (each an
    email to the admins: a notification), a member who leaves."""
    services.create_chat(title="Another", creator_id=team.outsider.pk)
    for n in range(3):
        services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text=f"hello {n}")
    services.remove_member(chat_id=team.chat.pk, actor_id=team.member.pk, user_id=team.member.pk)


ROW_ID = re.compile(r'<th class="field-id"><a href="[^"]*/(\d+)/change/')
IDENT = re.compile(r'<td class="field-ident">([^<]*)</td>')


def listed_ids(page: str) -> list[int]:
    """The ids of the rows a changelist shows, top to bottom (each row links its change page)."""
    return [int(pk) for pk in ROW_ID.findall(page)]


def counts(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.parametrize("model", GROWING, ids=lambda model: model.__name__)
def test_a_growing_table_is_listed_newest_first_by_its_primary_key(busy, admin_client, model):
    assert model.objects.count() >= 2, "the fixture leaves rows to order"
    modeladmin = admin.site._registry[model]
    assert modeladmin.get_ordering(None) == ["-id"]
    assert modeladmin.show_full_result_count is False
    assert modeladmin.paginator is EstimatedCountPaginator
    page = admin_client.get(f"/admin/chats/{model._meta.model_name}/").content.decode()
    newest_first = list(model.objects.order_by("-id").values_list("id", flat=True))
    assert listed_ids(page) == newest_first


@pytest.mark.parametrize(
    "path",
    [
        "/admin/chats/notification/?status__exact=sent",
        "/admin/chats/notification/?q=example.com",
        "/admin/chats/message/?q=hello",
        "/admin/chats/publication/?status__exact=pending",
        "/admin/chats/membershipevent/?kind__exact=join",
        "/admin/auth/user/?q=member",
    ],
)
def test_a_filtered_list_counts_once_and_says_show_all_not_the_total(busy, admin_client, path):
    """Django's default counts the whole table a second time for `N results (M total)`."""
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(path).content.decode()
    assert len(counts(queries)) == 1, counts(queries)
    assert " total)" not in page
    if "?q=" in path:  # the result count is shown next to the search box
        assert "Show all" in page


@pytest.fixture
def refusals(redis_service, settings) -> list[RefusedAttempt]:
    """Refusals over three days (the admin adds the cache's pending counts: a real Redis)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_service.cache_url,
        }
    }
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [
        RefusedAttempt.objects.create(
            scope=Scope.AUTH_CLIENT,
            ident=f"203.0.113.{n}",
            hour=hour - timedelta(days=n),
            count=n + 1,
            last_refused_at=hour - timedelta(days=n),
        )
        for n in range(3)
    ]


def test_the_refusals_list_reads_no_date_of_every_row(refusals, admin_client):
    """No date hierarchy (a MIN/MAX and a DISTINCT over every row's hour on each page); the hour
    is a filter of fixed ranges instead, and the newest hour comes first."""
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get("/admin/ratelimits/refusedattempt/").content.decode()
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "DISTINCT" not in sql
    assert "MIN(" not in sql
    assert "MAX(" not in sql
    assert IDENT.findall(page) == [r.ident for r in refusals]  # newest hour first
    # The hour filter: today only.
    today = admin_client.get("/admin/ratelimits/refusedattempt/", {"hour__gte": _today()})
    assert IDENT.findall(today.content.decode()) == [refusals[0].ident]
    searched = admin_client.get("/admin/ratelimits/refusedattempt/", {"q": "203.0.113"})
    assert " total)" not in searched.content.decode()


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d 00:00:00+00:00")


# --- the count with a time limit (PostgreSQL) ----------------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="statement_timeout and EXPLAIN are PostgreSQL's"
)


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_a_quick_count_is_exact(busy):
    before = statement_timeout() if connection.vendor == "postgresql" else None
    queryset = Publication.objects.order_by("-id")
    assert EstimatedCountPaginator(queryset, 100).count == queryset.count()
    if before is not None:
        assert statement_timeout() == before  # the time limit ended with the count


@postgresql_only
def test_a_slow_count_gives_way_to_the_planners_estimate(busy):
    """A count that outlasts the limit (each row made slow with pg_sleep) is cancelled; the page
    still gets a number, the planner's, and the connection goes on as before."""
    before = statement_timeout()
    slow = Publication.objects.extra(where=["(SELECT true FROM pg_sleep(0.05))"]).order_by("-id")
    paginator = EstimatedCountPaginator(slow, 100)
    paginator.timeout_ms = 10
    with CaptureQueriesContext(connection) as queries:
        estimate = paginator.count
    assert any(q["sql"].startswith("EXPLAIN") for q in queries.captured_queries)
    assert isinstance(estimate, int)
    assert estimate >= 0
    assert statement_timeout() == before
    assert Publication.objects.count() >= 3  # the connection is usable: no aborted transaction
