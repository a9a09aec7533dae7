"""Storage on /metrics, as an operator reads it: rows per large table (PostgreSQL's statistics,
never a count), the report folder's size, and the age of the oldest row each retention covers,
measured by the beat task into a real Redis and served from there."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from chatplatform.celery import app as celery_app
from chats.models import Chat, Message, Notification, Publication
from observability import prometheus, storage
from observability.tasks import measure_storage_task
from ratelimits.models import RefusedAttempt, Scope

pytestmark = pytest.mark.django_db
DAY = 86400
ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's statistics and plans"
)


def scrape(client) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of GET /metrics, with the token Prometheus sends."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_BEARER_TOKEN}")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def named(metrics: dict, name: str) -> dict[tuple, float]:
    return {labels: value for (sample, labels), value in metrics.items() if sample == name}


def retention(table: str, status: str) -> tuple:
    return (("status", status), ("table", table))


def email(status: str, done_at: datetime | None, **fields: object) -> Notification:
    return Notification.objects.create(
        status=status,
        done_at=done_at,
        event=Notification.Event.MEMBER_ADDED,
        recipient_id=1,
        recipient_email="admin@example.com",
        subject="s",
        body_text="b",
        body_html="<p>b</p>",
        **fields,
    )


def live_event(status: str, done_at: datetime | None) -> Publication:
    return Publication.objects.create(status=status, done_at=done_at, channel="c", data={})


@pytest.fixture
def history(make_user) -> datetime:
    """Finished and unfinished outbox rows and refusals at known ages; returns `now`."""
    now = timezone.now()
    owner = make_user("owner")
    chat = Chat.objects.create(title="History", created_by=owner)
    Message.objects.bulk_create(Message(chat=chat, author=owner, text=f"m{n}") for n in range(5))
    email("sent", now - timedelta(days=3))
    email("sent", now - timedelta(days=1))
    email("failed", now - timedelta(days=10))
    email(Notification.FOLDED, now - timedelta(days=2))
    email(Notification.CANCELLED, now - timedelta(days=6))
    # In flight or held: no retention covers them, however old.
    email("pending", None, created_at=now - timedelta(days=400))
    email(Notification.HELD, None, created_at=now - timedelta(days=400))
    live_event("sent", now - timedelta(days=4))
    live_event("sending", None)
    hour = (now - timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    RefusedAttempt.objects.create(
        scope=Scope.AUTH_CLIENT, ident="203.0.113.9", hour=hour, count=3, last_refused_at=hour
    )
    return now


def test_metrics_shows_storage_after_the_task_ran(
    history: datetime, redis_service, client, tmp_path, settings
) -> None:
    settings.REPORTS_DIR = tmp_path / "reports"
    (settings.REPORTS_DIR / "20250303T000000Z").mkdir(parents=True)
    (settings.REPORTS_DIR / "20250303T000000Z" / "index.html").write_bytes(b"x" * 5000)
    storage.redis_client().delete(storage.STORAGE_KEY)
    assert not named(scrape(client), "chatplatform_storage_measured_timestamp_seconds")

    before = time.time()
    measure_storage_task()  # the task body, as the worker runs it
    metrics = scrape(client)
    after = time.time()

    [measured] = named(metrics, "chatplatform_storage_measured_timestamp_seconds").values()
    assert before - 1 <= measured <= after
    assert named(metrics, "chatplatform_reports_bytes") == {(): pytest.approx(5000, abs=4096)}
    ages = named(metrics, "chatplatform_retention_oldest_age_seconds")
    expected_days = {
        retention("notifications", "sent"): 3,
        retention("notifications", "folded"): 2,
        retention("notifications", "cancelled"): 6,
        retention("notifications", "failed"): 10,
        retention("publications", "sent"): 4,
    }
    assert set(ages) == {*expected_days, retention("refused_attempts", "refused")}
    for labels, days in expected_days.items():
        assert days * DAY <= ages[labels] <= days * DAY + (after - history.timestamp()), labels
    assert 5 * DAY <= ages[retention("refused_attempts", "refused")] <= 5 * DAY + 3600 + 60
    assert named(metrics, "chatplatform_retention_days") == {
        retention("notifications", "sent"): settings.RETENTION_SENT_DAYS,
        retention("notifications", "folded"): settings.RETENTION_SENT_DAYS,
        retention("notifications", "cancelled"): settings.RETENTION_SENT_DAYS,
        retention("notifications", "failed"): settings.RETENTION_FAILED_DAYS,
        retention("publications", "sent"): settings.RETENTION_SENT_DAYS,
        retention("publications", "failed"): settings.RETENTION_FAILED_DAYS,
        retention("refused_attempts", "refused"): settings.RETENTION_REFUSALS_DAYS,
    }
    if connection.vendor != "postgresql":
        # No statistics to estimate from, and never a count: no row numbers at all.
        assert not named(metrics, "chatplatform_table_rows")
        assert not named(metrics, "chatplatform_table_rows_budget")


@ON_POSTGRESQL
def test_table_rows_come_from_postgresql_statistics(history: datetime, redis_service, client):
    tables = list(storage.ROW_BUDGETS)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'ANALYZE "{table}"')  # what autovacuum does as rows come in
    measure_storage_task()
    metrics = scrape(client)
    rows = named(metrics, "chatplatform_table_rows")
    assert set(rows) == {(("table", table),) for table in tables}
    assert rows[(("table", Message._meta.db_table),)] >= 5
    assert rows[(("table", Notification._meta.db_table),)] >= 6
    assert rows[(("table", get_user_model()._meta.db_table),)] >= 1
    budgets = named(metrics, "chatplatform_table_rows_budget")
    assert set(budgets) == set(rows)
    assert all(budget > 0 for budget in budgets.values())


@ON_POSTGRESQL
@pytest.mark.parametrize("covered", storage.RETENTIONS, ids=lambda r: f"{r.table}-{r.status}")
def test_each_oldest_row_is_one_index_read(covered: storage.Retention) -> None:
    """With sequential scans and sorts priced out, the plan still reads the oldest row from an
    index in order: an index serves it, whatever the table holds."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    query = covered.rows().order_by(covered.field).values_list(covered.field, flat=True)[:1]
    plan = query.explain()
    assert "Index" in plan and "Seq Scan" not in plan and "Sort" not in plan, plan


def test_the_measurement_reads_no_more_with_more_history(history: datetime, redis_service):
    """The same statements, none of them a count, with ten times the rows."""
    with CaptureQueriesContext(connection) as small:
        storage.measure_storage()
    for _ in range(9):
        email("sent", history - timedelta(days=6))
        live_event("failed", history - timedelta(days=6))
        Message.objects.create(chat=Chat.objects.get(), text="more")
    with CaptureQueriesContext(connection) as large:
        measured = storage.measure_storage()
    statements = [query["sql"] for query in large.captured_queries]
    assert (
        len(statements)
        == len(small.captured_queries)
        == len(storage.RETENTIONS) + (connection.vendor == "postgresql")
    )
    assert not [sql for sql in statements if "COUNT(" in sql.upper()]
    assert measured["oldest"]["publications"]["failed"] is not None


def test_ages_grow_at_scrape_time_when_the_task_stops(history: datetime, redis_service) -> None:
    measured = storage.measure_storage()
    first = prometheus.storage_metrics(measured, now=history.timestamp() + 10)
    later = prometheus.storage_metrics(measured, now=history.timestamp() + 3610)

    def age(families: list, table: str, status: str) -> float:
        [family] = [f for f in families if f.name == "chatplatform_retention_oldest_age_seconds"]
        wanted = {"table": table, "status": status}
        return next(sample.value for sample in family.samples if sample.labels == wanted)

    assert age(later, "notifications", "sent") - age(first, "notifications", "sent") == 3600
    assert age(later, "publications", "sent") - age(first, "publications", "sent") == 3600


def test_metrics_answer_without_storage_when_redis_does_not(client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    assert not named(scrape(client), "chatplatform_storage_measured_timestamp_seconds")


def test_stored_labels_outside_the_declared_sets_are_not_exported() -> None:
    measured = {
        "measured_at": datetime.now(UTC).isoformat(),
        "table_rows": {"chats_message": 3, "chat_42_secrets": 7},
        "reports_bytes": 10,
        "oldest": {"notifications": {"sent": None, "bounced": datetime.now(UTC).isoformat()}},
        "retention_days": {"user_99": {"x": 1}},
    }
    samples = {
        (s.name, tuple(sorted(s.labels.items())))
        for family in prometheus.storage_metrics(measured)
        for s in family.samples
    }
    assert ("chatplatform_table_rows", (("table", "chats_message"),)) in samples
    assert not [labels for _, labels in samples if "chat_42_secrets" in str(labels)]
    assert not [name for name, _ in samples if name.startswith("chatplatform_retention")]


def test_the_task_is_discovered_and_routed_to_maintenance() -> None:
    celery_app.loader.import_default_modules()
    name = "observability.tasks.measure_storage_task"
    assert name in celery_app.tasks
    assert celery_app.amqp.router.route({}, name)["queue"].name == "maintenance"
    entry = settings.CELERY_BEAT_SCHEDULE["measure-storage"]
    assert entry["task"] == name
