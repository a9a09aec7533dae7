"""The trace pages (/traces/, /traces/<id>/) on a real Jaeger: what staff see of traces sent
with the OpenTelemetry SDK, as the platform's processes send theirs (service names and span
attributes as in docs/tracing.md).

Every test sends its own traces with ids of its own (the session's Jaeger is shared) and reads
the pages as a staff user would.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

import testing

pytestmark = pytest.mark.slow

WEB, LIVE = "chatplatform-web", "chatplatform-worker-live"
HOSTILE_TITLE = '<script>alert("x")</script><b>Team & co</b>'


class Sender:
    """Tracers of the platform's services exporting every span at once to the test's Jaeger."""

    def __init__(self, jaeger: testing.JaegerProcess) -> None:
        self.jaeger = jaeger
        self.providers: dict[str, TracerProvider] = {}

    def tracer(self, service: str) -> otel_trace.Tracer:
        if service not in self.providers:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            exporter = OTLPSpanExporter(endpoint=f"{self.jaeger.otlp_endpoint}/v1/traces")
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            self.providers[service] = provider
        return self.providers[service].get_tracer("monitoring.tests.test_traces")

    def message_trace(self, chat_id: int, message_id: int, *, slow_ns: int = 0) -> str:
        """A posted message's trace: the web request, the outbox wait and the live worker's
        delivery with its Centrifugo publish (which fails once); returns its hex id."""
        start = time.time_ns() - 60_000_000 - slow_ns
        web, live = self.tracer(WEB), self.tracer(LIVE)
        ids = {"chat.id": str(chat_id), "message.id": str(message_id)}
        root = web.start_span(
            "POST /api/chats/{chat_id}/messages/", start_time=start, attributes=ids
        )
        root.set_attribute("chat.title", HOSTILE_TITLE)
        parent = otel_trace.set_span_in_context(root)
        web.start_span("INSERT chatplatform", context=parent, start_time=start + 2_000_000).end(
            end_time=start + 5_000_000
        )
        root.end(end_time=start + 12_000_000)
        wait = live.start_span(
            "outbox wait", context=parent, start_time=start + 12_000_000, attributes=ids
        )
        wait.end(end_time=start + 20_000_000 + slow_ns)
        deliver = live.start_span(
            "deliver publication",
            context=parent,
            start_time=start + 20_000_000 + slow_ns,
            attributes={**ids, "publication.id": str(message_id + 7)},
        )
        publish = live.start_span(
            "centrifugo publish",
            context=otel_trace.set_span_in_context(deliver),
            start_time=start + 21_000_000 + slow_ns,
        )
        publish.add_event("retry", {"reason": "<i>503</i>"}, timestamp=start + 22_000_000 + slow_ns)
        publish.set_status(Status(StatusCode.ERROR, "Centrifugo answered 503"))
        publish.end(end_time=start + 30_000_000 + slow_ns)
        deliver.end(end_time=start + 31_000_000 + slow_ns)
        return format(root.get_span_context().trace_id, "032x")

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()


@pytest.fixture
def sender(jaeger) -> Iterator[Sender]:
    sent = Sender(jaeger)
    yield sent
    sent.shutdown()


@pytest.fixture
def staff(client, make_user, settings, jaeger):
    """A staff user's client, the app reading traces from the test's Jaeger."""
    settings.JAEGER_QUERY_URL = jaeger.query_url
    client.force_login(make_user("tracer", is_staff=True))
    return client


def new_id() -> int:
    return random.randrange(10**8, 10**9)


def wait_for(jaeger, trace_id: str, spans: int) -> dict:
    """The trace once Jaeger holds all of its spans."""

    def complete() -> dict | None:
        try:
            found = jaeger.get_trace(trace_id)
        except LookupError:
            return None
        return found if len(found["spans"]) >= spans else None

    return testing.wait_until(complete, 20, f"trace {trace_id} in Jaeger")


def listed(html: str) -> list[str]:
    """The trace ids of the search's result rows, in order."""
    return re.findall(r'<tr data-trace-id="([0-9a-f]+)"', html)


def test_search_by_chat_id_lists_that_trace_and_not_another(staff, sender, jaeger) -> None:
    chat, other_chat, message = new_id(), new_id(), new_id()
    mine = sender.message_trace(chat, message)
    other = sender.message_trace(other_chat, new_id())
    wait_for(jaeger, mine, 5), wait_for(jaeger, other, 5)

    response = staff.get("/traces/", {"chat_id": chat})
    assert response.status_code == 200
    html = response.content.decode()
    assert listed(html) == [mine]
    assert "1 trace" in html
    assert f"{WEB}: POST /api/chats/{{chat_id}}/messages/" in html
    assert f"{LIVE} (3)" in html and f"{WEB} (2)" in html  # the services and their spans
    assert "1 error" in html

    # The same trace by message id, and by its trace id (straight to its page).
    assert listed(staff.get("/traces/", {"message_id": message}).content.decode()) == [mine]
    response = staff.get("/traces/", {"trace_id": mine.upper()})
    assert response.status_code == 302 and response["Location"] == f"/traces/{mine}/"
    assert listed(staff.get("/traces/", {"chat_id": new_id()}).content.decode()) == []


def test_the_waterfall_shows_every_span_under_its_parent_with_text_escaped(
    staff, sender, jaeger
) -> None:
    chat, message = new_id(), new_id()
    trace_id = sender.message_trace(chat, message)
    wait_for(jaeger, trace_id, 5)

    response = staff.get(f"/traces/{trace_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(
        r'<details class="wf-span( wf-error)?" data-span-id="\w+" data-depth="(\d)"'
        r' data-service="([\w-]+)" data-operation="([^"]+)"',
        html,
    )
    assert [(depth, service, operation) for _, depth, service, operation in rows] == [
        ("0", WEB, "POST /api/chats/{chat_id}/messages/"),
        ("1", WEB, "INSERT chatplatform"),
        ("1", LIVE, "outbox wait"),
        ("1", LIVE, "deliver publication"),
        ("2", LIVE, "centrifugo publish"),
    ]
    assert [bool(error) for error, *_ in rows] == [False, False, False, False, True]
    # The bars: the root spans the whole trace; the publish starts 70 % in and lasts 30 %.
    assert 'style="margin-left: 0.000%; width: 38.710%"' in html  # 12 of 31 ms
    assert "margin-left: 67.742%; width: 29.032%" in html  # 21 and 9 of 31 ms
    # Attributes and events are data: a chat title with HTML in it stays text.
    assert "<script>alert" not in html and "<b>Team" not in html and "<i>503" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;Team &amp; co" in html
    assert "&lt;i&gt;503&lt;/i&gt;" in html
    # An id attribute links to the search for it.
    assert f'<a href="/traces/?chat_id={chat}" title="traces with this id">{chat}</a>' in html


def test_slowest_first_around_a_point_in_time(staff, sender, jaeger) -> None:
    """What a latency panel's link asks for: one service's traces in the five minutes before a
    point, the slowest first."""
    chat = new_id()
    durations = {}
    for slow_ms in (40, 400, 5, 120):
        trace_id = sender.message_trace(chat, new_id(), slow_ns=slow_ms * 1_000_000)
        durations[trace_id] = slow_ms
    for trace_id in durations:
        wait_for(jaeger, trace_id, 5)
    at_ms = int(time.time() * 1000)
    html = staff.get(
        "/traces/", {"service": LIVE, "at": at_ms, "sort": "slowest", "chat_id": chat}
    ).content.decode()
    assert listed(html) == sorted(durations, key=durations.get, reverse=True)
    assert "slowest first" in html
    # The same with the service as a prefix (a panel of every worker group) and a range.
    html = staff.get(
        "/traces/",
        {
            "service": "chatplatform-worker-*",
            "start": at_ms - 600_000,
            "end": at_ms,
            "sort": "slowest",
            "chat_id": chat,
        },
    ).content.decode()
    assert listed(html) == sorted(durations, key=durations.get, reverse=True)
    # A window that ended before them lists none.
    html = staff.get(
        "/traces/", {"service": LIVE, "at": at_ms - 900_000, "chat_id": chat}
    ).content.decode()
    assert listed(html) == []


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/traces/", {"trace_id": "not-a-trace"}, "A trace id is 16 or 32 hexadecimal digits"),
        ("/traces/", {"trace_id": "abc123"}, "A trace id is 16 or 32 hexadecimal digits"),
        ("/traces/", {"chat_id": "12a"}, "Chat id must be a whole number"),
        ("/traces/", {"message_id": "-3"}, "Message id must be a whole number"),
        ("/traces/", {"notification_id": "1 OR 1=1"}, "Notification id must be a whole number"),
        ("/traces/", {"start": "2000", "end": "1000"}, "end must be after start"),
        ("/traces/zz<b>/", {}, "A trace id is 16 or 32 hexadecimal digits"),
    ],
)
def test_malformed_ids_get_a_clear_message(staff, path, params, message) -> None:
    response = staff.get(path, params)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "<b>/" not in html


def test_a_trace_jaeger_does_not_hold_is_a_404_saying_so(staff) -> None:
    response = staff.get(f"/traces/{'ab' * 16}/")
    assert response.status_code == 404
    assert f"Jaeger holds no trace {'ab' * 16}" in response.content.decode()


@pytest.mark.parametrize("path", ["/traces/", f"/traces/{'0' * 31}1/"])
def test_non_staff_are_refused(client, make_user, settings, jaeger, path) -> None:
    settings.JAEGER_QUERY_URL = jaeger.query_url
    for user in (None, make_user("member")):
        if user:
            client.force_login(user)
        response = client.get(path, {"chat_id": "1"} if path == "/traces/" else {})
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=/traces/")


def test_jaeger_down_or_not_configured_is_a_message_not_an_error(staff, settings) -> None:
    settings.JAEGER_QUERY_URL = f"http://127.0.0.1:{testing.free_port()}"
    for path in ("/traces/?chat_id=5", f"/traces/{'1' * 32}/"):
        response = staff.get(path)
        assert response.status_code == 503
        assert "Jaeger is not reachable at http://127.0.0.1:" in response.content.decode()

    settings.JAEGER_QUERY_URL = ""
    for path in ("/traces/?chat_id=5", f"/traces/{'1' * 32}/"):
        response = staff.get(path)
        assert response.status_code == 200
        assert "Traces are off: JAEGER_QUERY_URL is not set." in response.content.decode()
