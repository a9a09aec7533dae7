"""One trace from the request to the inbox and to Centrifugo, on real processes (docs/tracing.md).

A real web process (gunicorn) and a real worker trace to a real Jaeger (testing.JaegerProcess);
what the tests read is what an operator would: the trace Jaeger's query API returns, found by
the chat's id, with the spans of each process in one tree.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from rest_framework.authtoken.models import Token

import testing
from chatplatform.celery import app as celery_app
from chats import services
from chats.models import Notification, Role
from chats.tasks import requeue_stale_outbox_task
from core.outbox import OutboxStatus
from testing.browser import screenshot, signed_in_page

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WEB, WORKER = "chatplatform-web", "chatplatform-worker-all"


def app_env(redis, centrifugo, smtp, **overrides: object) -> dict[str, str]:
    """A web process's or worker's environment on the test database, this Redis, Centrifugo and
    SMTP server, every email sent (no cap), with `overrides` (tracing's variables)."""
    return testing.django_env(
        REDIS_URL=redis.url,
        CELERY_BROKER_URL=redis.url,
        CACHE_URL=redis.cache_url,
        EMAIL_RECIPIENT_LIMIT="",
        **smtp.django_env,
        **centrifugo.django_env,
        **overrides,
    )


@pytest.fixture(scope="module")
def mailbox() -> Iterator[testing.SmtpProcess]:
    """The SMTP server of this module's tests (each reads its own chat's emails)."""
    with testing.SmtpProcess() as server:
        yield server


@pytest.fixture(scope="module")
def stack(jaeger, redis_service, centrifugo_service, mailbox, django_db_setup) -> Iterator[str]:
    """A traced web process and worker (every queue), for the module, sending to `mailbox` and
    the test Centrifugo; yields the web process's URL."""
    celery_app.control.purge()
    env = app_env(
        redis_service,
        centrifugo_service,
        mailbox,
        EMAIL_TIMEOUT=2,
        OUTBOX_STALE_SECONDS=2,
        CENTRIFUGO_TIMEOUT=2,
        **jaeger.env(),
    )
    with (
        testing.WebProcess(env, "traced-web") as web,
        testing.WorkerProcess(env, concurrency=1, name="traced-worker"),
    ):
        yield web.url


def mail_about(smtp: testing.SmtpProcess, chat_title: str) -> list:
    """The emails about one chat (its title leads their subject)."""
    return [m for m in smtp.inbox.messages() if m.subject.startswith(f"[{chat_title}]")]


def api(url: str, user, method: str, path: str, **body: object) -> requests.Response:
    token, _ = Token.objects.get_or_create(user=user)
    headers = {"Authorization": f"Token {token.key}"}
    return requests.request(method, url + path, json=body or None, headers=headers, timeout=15)


def spans_by_operation(trace: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for span in trace["spans"]:
        found.setdefault(span["operationName"], []).append(span)
    return found


def tag(span: dict, key: str) -> object:
    return next((t["value"] for t in span["tags"] if t["key"] == key), None)


def service_of(trace: dict, span: dict) -> str:
    return trace["processes"][span["processID"]]["serviceName"]


def ancestors(trace: dict, span: dict) -> list[dict]:
    """The span's parents up to the root, nearest first (CHILD_OF references in this trace)."""
    by_id = {s["spanID"]: s for s in trace["spans"]}
    chain = []
    while True:
        parents = [
            r["spanID"]
            for r in span["references"]
            if r["refType"] == "CHILD_OF" and r["traceID"] == trace["traceID"]
        ]
        if not parents or parents[0] not in by_id:
            return chain
        span = by_id[parents[0]]
        chain.append(span)


def roots(trace: dict) -> list[dict]:
    """Spans without a parent in the trace: the request, and any span whose parent Jaeger has
    not received (yet: each process sends its own batches)."""
    return [span for span in trace["spans"] if not ancestors(trace, span)]


def under_request(trace: dict, span: dict) -> bool:
    """Whether the span's chain of parents reaches the web request that began the trace."""
    chain = ancestors(trace, span)
    return bool(chain) and chain[-1]["operationName"].startswith(("POST", "GET"))


def with_operation(name: str, **tags: object):
    """A predicate: the trace has a span `name` with these tag values, whose chain of parents
    is whole up to the request (so the trace is not seen half-delivered)."""

    def has(trace: dict) -> bool:
        return any(
            all(tag(span, key) == value for key, value in tags.items())
            and under_request(trace, span)
            for span in spans_by_operation(trace).get(name, [])
        )

    return has


def test_a_membership_change_is_one_trace_from_the_request_to_the_smtp_reply(
    stack, jaeger, mailbox, make_user, browser
):
    owner, admin, newcomer = make_user("olga"), make_user("adam"), make_user("nina")
    chat = services.create_chat(title="Traced", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)

    response = api(
        stack, owner, "POST", f"/api/chats/{chat.pk}/members/", user_id=newcomer.pk, role="member"
    )
    assert response.status_code == 201, response.text
    note = Notification.objects.get(subject__contains="nina")
    testing.wait_until(lambda: mail_about(mailbox, "Traced"), 30, "the admin email")

    [trace] = jaeger.wait_for_traces(
        WEB, {"chat.id": chat.pk}, with_operation("smtp send", **{"smtp.reply_code": 250})
    )
    spans = spans_by_operation(trace)
    [request] = [span for span in roots(trace) if not span["references"]]
    assert service_of(trace, request) == WEB
    assert tag(request, "http.request.method") == "POST" or tag(request, "http.method") == "POST"
    [deliver] = spans["deliver notification"]
    assert tag(deliver, "notification.id") == str(note.pk)
    assert tag(deliver, "outbox.result") == "sent"
    assert service_of(trace, deliver) == WORKER
    [smtp_send] = spans["smtp send"]
    assert service_of(trace, smtp_send) == WORKER
    # The SMTP conversation sits under the delivery, which continues the request's trace.
    assert deliver in ancestors(trace, smtp_send)
    assert ancestors(trace, smtp_send)[-1] is request
    # The hand-over (the task's publish, after commit), the wait, and the task itself.
    assert any(op.startswith("apply_async/") for op in spans), sorted(spans)
    assert any(op.startswith("run/") for op in spans), sorted(spans)
    [wait] = spans["outbox wait"]
    assert wait["startTime"] <= deliver["startTime"]
    note.refresh_from_db()
    assert note.status == OutboxStatus.SENT

    # What staff see of it: the waterfall the app draws from Jaeger, every process in one tree.
    context, page = signed_in_page(browser, stack, make_user("operator", is_staff=True))
    try:
        page.goto(f"{stack}/traces/{trace['traceID']}/")
        text = page.inner_text("main") if page.query_selector("main") else page.inner_text("body")
        for expected in (WEB, WORKER, "deliver notification", "smtp send", "outbox wait"):
            assert expected in text, expected
        page.click("text=smtp send")
        assert "250" in page.inner_text("body")
        screenshot(page, "trace-membership-change.png")
    finally:
        context.close()


def test_a_message_trace_reaches_the_centrifugo_publish(stack, jaeger, make_user):
    author = make_user("mia")
    chat = services.create_chat(title="Live", creator_id=author.pk)

    response = api(stack, author, "POST", f"/api/chats/{chat.pk}/messages/", text="hello")
    assert response.status_code == 201, response.text
    message_id = response.json()["id"]

    [trace] = jaeger.wait_for_traces(
        WEB, {"message.id": message_id}, with_operation("centrifugo publish")
    )
    [publish] = spans_by_operation(trace)["centrifugo publish"]
    # Published by the web process right after commit (the default live path), in the request.
    assert service_of(trace, publish) == WEB
    assert ancestors(trace, publish)[-1]["operationName"].startswith("POST")
    assert not [s for s in trace["spans"] if tag(s, "error") is True]


def test_with_redis_down_the_sweepers_delivery_still_belongs_to_the_request(
    stack, jaeger, redis_service, mailbox, make_user
):
    owner, admin, newcomer = make_user("olga"), make_user("adam"), make_user("nina")
    chat = services.create_chat(title="Outage", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)

    redis_service.stop()
    try:
        response = api(stack, owner, "POST", f"/api/chats/{chat.pk}/members/", user_id=newcomer.pk)
        assert response.status_code == 201, response.text
        time.sleep(1)
        note = Notification.objects.get(subject__contains="nina")
        assert (note.status, note.attempts) == (OutboxStatus.PENDING, 0)
    finally:
        if not redis_service.running:
            redis_service.start()

    def swept_then_delivered() -> bool:
        try:
            requeue_stale_outbox_task.delay()
        except Exception:
            return False
        return bool(mail_about(mailbox, "Outage"))

    testing.wait_until(swept_then_delivered, 60, "the email after Redis came back", interval=2)

    [trace] = jaeger.wait_for_traces(
        WEB, {"chat.id": chat.pk}, with_operation("smtp send", **{"smtp.reply_code": 250})
    )
    spans = spans_by_operation(trace)
    [deliver] = spans["deliver notification"]
    assert tag(deliver, "notification.id") == str(note.pk)
    # The wait covers the outage, and the delivery links to the sweep that queued it.
    [wait] = spans["outbox wait"]
    assert deliver["startTime"] - wait["startTime"] >= 1_000_000  # microseconds
    [link] = [r for r in deliver["references"] if r["traceID"] != trace["traceID"]]
    queued_by = jaeger.get_trace(link["traceID"])
    operations = {s["operationName"] for s in queued_by["spans"]}
    assert "run/chats.tasks.requeue_stale_outbox_task" in operations, operations


def test_an_unreachable_trace_store_costs_requests_nothing_but_their_spans(
    stack, redis_service, centrifugo_service, mailbox, make_user
):
    """A web process whose trace store is down (nothing listens at its endpoint): spans are
    dropped by the batch thread, every request still answers, and the email still goes (the
    module's worker delivers it)."""
    env = app_env(
        redis_service,
        centrifugo_service,
        mailbox,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{testing.free_port()}",
        OTEL_EXPORTER_OTLP_TIMEOUT="1",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    owner, admin, newcomer = make_user("olga"), make_user("adam"), make_user("nina")
    chat = services.create_chat(title="No store", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    with testing.WebProcess(env, "untraced-web") as web:
        for n in range(20):
            response = api(web.url, owner, "POST", f"/api/chats/{chat.pk}/messages/", text=f"{n}")
            assert response.status_code == 201, response.text
        response = api(
            web.url, owner, "POST", f"/api/chats/{chat.pk}/members/", user_id=newcomer.pk
        )
        assert response.status_code == 201, response.text
        testing.wait_until(lambda: mail_about(mailbox, "No store"), 30, "the admin email")
    [mail] = mail_about(mailbox, "No store")
    assert mail.subject == "[No store] nina joined the chat"


def test_the_retries_of_an_email_are_in_its_trace(stack, jaeger, mailbox, make_user):
    owner, admin, newcomer = make_user("olga"), make_user("adam"), make_user("nina")
    chat = services.create_chat(title="Retried", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    mailbox.stop()
    try:
        response = api(stack, owner, "POST", f"/api/chats/{chat.pk}/members/", user_id=newcomer.pk)
        assert response.status_code == 201, response.text
        note = Notification.objects.get(subject__contains="nina")
        testing.wait_until(
            lambda: Notification.objects.get(pk=note.pk).attempts >= 1, 30, "a failed attempt"
        )
    finally:
        mailbox.start()
    testing.wait_until(lambda: mail_about(mailbox, "Retried"), 60, "the email once SMTP is back")

    sent = with_operation("deliver notification", **{"outbox.result": "sent"})
    [trace] = jaeger.wait_for_traces(WEB, {"chat.id": chat.pk}, sent)
    attempts = sorted(
        spans_by_operation(trace)["deliver notification"], key=lambda span: span["startTime"]
    )
    assert len(attempts) >= 2
    assert [tag(span, "outbox.attempt") for span in attempts] == list(range(1, len(attempts) + 1))
    assert tag(attempts[0], "error") is True  # the refused connection
    assert tag(attempts[-1], "outbox.result") == "sent"
    # One wait, the first attempt's (commit to claim); the retries' backoff shows as gaps.
    assert len(spans_by_operation(trace)["outbox wait"]) == 1


def test_a_delivery_is_traced_even_when_its_request_was_not_sampled(
    stack, jaeger, redis_service, centrifugo_service, mailbox, make_user
):
    """Requests are sampled (a tenth by default); deliveries always: with a web process that
    samples no request, the email's delivery, wait and SMTP reply are still in Jaeger, found by
    the chat's id, in the trace id the request had."""
    env = app_env(
        redis_service,
        centrifugo_service,
        mailbox,
        **{**jaeger.env(), "OTEL_TRACES_SAMPLER": "parentbased_always_off"},
    )
    owner, admin, newcomer = make_user("olga"), make_user("adam"), make_user("nina")
    chat = services.create_chat(title="Unsampled", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    with testing.WebProcess(env, "unsampled-web") as web:
        response = api(
            web.url, owner, "POST", f"/api/chats/{chat.pk}/members/", user_id=newcomer.pk
        )
        assert response.status_code == 201, response.text
        testing.wait_until(lambda: mail_about(mailbox, "Unsampled"), 30, "the admin email")
    note = Notification.objects.get(subject__contains="nina")

    def sent(trace: dict) -> bool:
        return any(tag(s, "smtp.reply_code") == 250 for s in trace["spans"])

    [trace] = jaeger.wait_for_traces(WORKER, {"notification.id": note.pk}, sent)
    operations = {span["operationName"] for span in trace["spans"]}
    assert {"outbox wait", "deliver notification", "smtp send"} <= operations
    assert {service_of(trace, span) for span in trace["spans"]} == {WORKER}  # no request spans
    assert note.trace_context.split("-")[1] == trace["traceID"].rjust(32, "0")
    assert jaeger.find_traces(WEB, {"chat.id": chat.pk}) == []
