"""The journey of issue 26 in headless Chromium against the production profile: nginx terminating
TLS with a certificate of a local CA, gunicorn with DEBUG off, Centrifugo's WebSocket through the
proxy at the same origin, Celery workers (live, email), SMTP (testing.production.ProductionStack),
and a Prometheus scraping the server and Centrifugo for the dashboards.

The browser trusts the CA as a user's does once it is installed (an NSS database in its HOME,
testing.browser.trusting_home); nothing tells it to ignore certificate errors, so every page here
proves the certificate verifies, and a browser without the CA is refused. Screenshots go to
test-artifacts/production-*.png.
"""

from __future__ import annotations

import http.client
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

import testing
from chats import services
from chats.models import Notification, Role
from devmail.web import start_web_inbox
from integrations import centrifugo
from metrics import snapshot
from monitoring.grafana import build
from monitoring.prometheus import config as prometheus_config
from testing.browser import launch_chromium, log_in, screenshot, trusting_home
from testing.people import PASSWORD
from testing.production import ProductionStack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

User = get_user_model()
# Panels that the server's and Centrifugo's metrics alone must draw, by dashboard: the Prometheus
# here scrapes those two (no Flower, no worker metrics ports), so the others may say "No data".
MUST_DRAW = {
    "chatplatform-chat-activity": ("Users", "Chats", "Messages", "Messages per hour"),
    "chatplatform-live-delivery": (
        "Centrifugo nodes up",
        "Connected clients",
        "Requests by status",
    ),
}


# --- the stack and its browsers ----------------------------------------------------------------


def scraping(stack: ProductionStack, token: str, port: int, workdir: Path) -> Any:
    """A Prometheus (not started) on `port` with make prod's config, every second, scraping the
    stack's gunicorn (with its METRICS_BEARER_TOKEN) and Centrifugo; the other jobs point at
    ports nobody listens on."""
    token_file = workdir / "metrics-token"
    token_file.write_text(token)
    targets = {job: f"127.0.0.1:{testing.free_port()}" for job in prometheus_config.JOBS}
    targets.update(
        web=f"127.0.0.1:{stack.web.port}",
        centrifugo=f"127.0.0.1:{stack.centrifugo.internal_port}",
        prometheus=f"127.0.0.1:{port}",
    )
    rendered = prometheus_config.render_config(
        {**targets, "celery-workers": []}, scrape_interval="1s", web_token_file=token_file
    )
    return testing.PrometheusProcess(rendered, port=port)


@pytest.fixture(scope="module")
def stack(
    redis_service: testing.RedisProcess,
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProductionStack]:
    """The production profile on free ports, with the Prometheus its dashboards read."""
    token, prometheus_port = secrets.token_urlsafe(32), testing.free_port()
    with ProductionStack(
        redis_service,
        METRICS_BEARER_TOKEN=token,
        PROMETHEUS_URL=f"http://127.0.0.1:{prometheus_port}",
        WRITE_RATE_LIMIT="",
    ) as production:
        workdir = tmp_path_factory.mktemp("prometheus")
        with scraping(production, token, prometheus_port, workdir):
            yield production


@pytest.fixture(scope="module")
def trusting_browser(
    playwright_driver: Any, stack: ProductionStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """Chromium whose HOME's NSS database trusts the stack's CA, and nothing else local."""
    home = trusting_home(tmp_path_factory.mktemp("home-trusting"), stack.ca_file)
    chromium = launch_chromium(playwright_driver, home)
    yield chromium
    chromium.close()


@dataclass
class Window:
    """One person's browser window, and what it met that nobody should: console errors,
    uncaught exceptions, requests that were not https (mixed content)."""

    name: str
    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)
    insecure: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.set_default_timeout(20_000)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.on("request", self._request)
        self.page.on("websocket", lambda socket: self.websockets.append(socket.url))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        print(f"[browser {self.name}] {message.type}: {message.text}")
        if message.type == "error" or "Mixed Content" in message.text:
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            print(f"[browser {self.name}] {response.status} {response.url}")

    def _request(self, request: Any) -> None:
        if urlsplit(request.url).scheme not in ("https", "wss", "data", "blob"):
            self.insecure.append(request.url)


@pytest.fixture
def open_window(trusting_browser: Any) -> Iterator[Any]:
    """A window in a fresh context (its own cookies) of the trusting browser."""
    windows: list[Window] = []

    def open_as(name: str) -> Window:
        context = trusting_browser.new_context(viewport={"width": 1200, "height": 900})
        windows.append(Window(name, context, context.new_page()))
        return windows[-1]

    yield open_as
    for window in windows:
        window.context.close()


def people(make_user: Any, *names: str) -> list[Any]:
    """Users whose password the server can check: make_user's hashes are MD5 (fast, for
    in-process tests), which the server's default PASSWORD_HASHERS do not accept."""
    users = [make_user(name) for name in names]
    hasher = PBKDF2PasswordHasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())  # one for all: ~0.3 s a hash here
    User.objects.filter(pk__in=[u.pk for u in users]).update(password=encoded)
    return users


# --- certificates and plain http ----------------------------------------------------------------


def test_a_browser_without_the_local_ca_refuses_the_site(
    playwright_driver: Any, stack: ProductionStack, tmp_path: Path
) -> None:
    chromium = launch_chromium(playwright_driver, trusting_home(tmp_path, ca_file=None))
    try:
        page = chromium.new_page()
        with pytest.raises(Exception, match="net::ERR_CERT_AUTHORITY_INVALID"):
            page.goto(f"{stack.url}/login/")
    finally:
        chromium.close()


def test_plain_http_is_sent_to_the_same_page_over_https(
    stack: ProductionStack, open_window: Any
) -> None:
    connection = http.client.HTTPConnection("localhost", stack.proxy.http_port, timeout=10)
    connection.request("GET", "/login/?next=/chat/")
    answer = connection.getresponse()
    assert answer.status == 301
    assert answer.getheader("Location") == f"{stack.url}/login/?next=/chat/"
    connection.close()

    # A person typing the http address lands on the https page (a fresh context: no HSTS yet).
    window = open_window("visitor")
    window.page.goto(f"http://localhost:{stack.proxy.http_port}/login/")
    assert window.page.url == f"{stack.url}/login/"
    assert window.page.locator("#id_username").is_visible()
    assert window.errors == []


# --- the journey ------------------------------------------------------------------------------


def wait_for_counter(page: Any, key: str, expected: str) -> None:
    page.wait_for_function(
        "([key, expected]) => document.querySelector(`[data-key=${key}]`).textContent === expected",
        arg=[key, expected],
    )


def counter(page: Any, key: str) -> int:
    return int(page.locator(f"[data-key={key}]").inner_text().replace(",", ""))


def panel_states(page: Any) -> dict[str, str]:
    """Each panel's title and what it drew (loading, drawn, nodata, error: dashboards.js)."""
    return page.eval_on_selector_all(
        ".dash-panel",
        "els => Object.fromEntries(els.map(el => "
        "[el.querySelector('h3').textContent, el.dataset.state]))",
    )


def draw_dashboard(page: Any, url: str, must_draw: tuple[str, ...] = ()) -> dict[str, str]:
    """Load the dashboard until `must_draw` are drawn (Prometheus needs a few scrapes of a
    fresh server for a rate); returns the panels' states."""
    deadline = time.monotonic() + 30
    while True:
        page.goto(url)
        page.wait_for_selector("body[data-refreshed]")
        states = panel_states(page)
        missing = [title for title in must_draw if states.get(title) != "drawn"]
        if not missing or time.monotonic() > deadline:
            assert missing == [], states
            return states
        page.wait_for_timeout(2_000)


def snapshot_as_beat_makes_it(stack: ProductionStack) -> None:
    """The statistics snapshot, as beat stores it every few seconds (no beat runs here): with
    the online users the stack's Centrifugo counts."""
    wanted = {
        "CENTRIFUGO_API_URL": stack.centrifugo.api_url,
        "CENTRIFUGO_HTTP_API_KEY": stack.centrifugo.api_key,
    }
    previous = {name: getattr(settings, name) for name in wanted}
    try:
        for name, value in wanted.items():
            setattr(settings, name, value)
        centrifugo.client.cache_clear()  # the cached client still points at the old URL and key
        snapshot.refresh_snapshot()
    finally:
        for name, value in previous.items():
            setattr(settings, name, value)
        centrifugo.client.cache_clear()


def send_from(window: Window, text: str) -> None:
    window.page.fill("#message-text", text)
    window.page.click("#send-button")


def add_member(window: Window, chat_id: int, user: Any, role: str = Role.MEMBER) -> None:
    """What the members API does for the window's user (their session and CSRF token, as the
    page's own scripts send them), same origin over https."""
    status = window.page.evaluate(
        """async ([chat, user, role]) => {
            const response = await fetch(`/api/chats/${chat}/members/`, {
                method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken":
                    document.cookie.match(/csrftoken=([^;]+)/)[1]},
                body: JSON.stringify({user_id: user, role: role}),
            });
            return response.status;
        }""",
        [chat_id, user.pk, str(role)],
    )
    assert status == 201, status


def mails_to(stack: ProductionStack, address: str, subject: str) -> list[Any]:
    return [
        m for m in stack.inbox.messages() if m.envelope_to == [address] and m.subject == subject
    ]


def test_the_whole_journey_over_https_and_wss(
    stack: ProductionStack, open_window: Any, make_user: Any
) -> None:
    alice, bob, carol, dave = people(make_user, "alice", "bob", "carol", "dave")
    User.objects.filter(pk=alice.pk).update(is_staff=True)
    chat = services.create_chat(title="Launch", creator_id=alice.pk)
    services.add_member(chat_id=chat.pk, actor_id=alice.pk, user_id=bob.pk, role=Role.ADMIN)
    services.post_message(chat_id=chat.pk, author_id=alice.pk, text="welcome, bob")
    origin = urlsplit(stack.url)
    ws_url = f"wss://{origin.netloc}/connection/websocket"

    # Both log in through the form over https and open the chat, connected over wss.
    path = f"/chat/?chat={chat.pk}"
    windows = {}
    for user in (alice, bob):
        window = windows[user.username] = open_window(user.username)
        login_page = log_in(window.page, stack.url, user, path)
        assert login_page.status == 200
        assert login_page.headers["strict-transport-security"].startswith("max-age=31536000")
        window.page.wait_for_selector("body[data-realtime=connected]")
        window.page.wait_for_selector(f"body[data-subscribed-chat='{chat.pk}']")
        window.page.wait_for_selector("#messages li:has-text('welcome, bob')")
        config = window.page.evaluate(
            "JSON.parse(document.getElementById('realtime-config').textContent)"
        )
        assert config["wsUrl"] == ws_url
        assert set(window.websockets) == {ws_url}
        cookies = {c["name"]: c for c in window.context.cookies(stack.url)}
        assert cookies["sessionid"]["secure"] and cookies["sessionid"]["httpOnly"]
        assert cookies["csrftoken"]["secure"]
    alice_window, bob_window = windows["alice"], windows["bob"]

    # What alice sends appears live in bob's window, once.
    send_from(alice_window, "shipped over wss")
    line = bob_window.page.locator("#messages li", has_text="shipped over wss")
    line.wait_for()
    assert line.locator(".author").inner_text() == "alice"
    assert bob_window.page.locator("#messages li").count() == 2
    screenshot(bob_window.page, "production-chat.png")

    # The live page: the snapshot's numbers, and bob's next message counted as it is sent.
    snapshot_as_beat_makes_it(stack)
    page = alice_window.page
    response = page.goto(f"{stack.url}/live/")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    page.wait_for_selector("body[data-subscribed-stats=yes]")
    wait_for_counter(page, "users", "4")
    assert page.locator("[data-key=online_users]").inner_text() == "2"  # alice and bob
    before = counter(page, "messages_last_hour")
    send_from(bob_window, "counted live")
    wait_for_counter(page, "messages_last_hour", str(before + 1))
    screenshot(page, "production-live.png")

    # The dashboards: the list, then each one drawn from Prometheus through the app.
    page.goto(f"{stack.url}/dashboards/")
    links = page.locator(".dashboard-list a")
    models = build.build_all()
    assert links.all_inner_texts() == [model["title"] for model in models.values()]
    dashboards = [urlsplit(href).path for href in links.evaluate_all("as => as.map(a => a.href)")]
    assert [path.split("/")[2] for path in dashboards] == list(models)
    for dashboard in dashboards:
        wanted = MUST_DRAW.get(dashboard.split("/")[2], ())
        states = draw_dashboard(page, f"{stack.url}{dashboard}?range=15m", wanted)
        assert set(states.values()) <= {"drawn", "nodata"}, states
        screenshot(page, f"production-{dashboard.strip('/').replace('/', '-')}.png")
        if "chat-activity" in dashboard:
            users = page.locator(".dash-panel:has(h3:text-is('Users')) .stat-value")
            assert users.inner_text() == "4"

    # bob adds carol as an admin: alice gets the email, its unsubscribe link on this origin.
    add_member(bob_window, chat.pk, carol, Role.ADMIN)
    subject = "[Launch] carol joined the chat"
    testing.wait_until(lambda: mails_to(stack, alice.email, subject), 30, "the email to alice")
    (mail,) = mails_to(stack, alice.email, subject)
    assert mail.header("List-Unsubscribe").startswith(f"<{stack.url}/")
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"

    # alice reads it in the web inbox, and opens its unsubscribe link in the browser.
    inbox = start_web_inbox(stack.inbox.mail_dir, "127.0.0.1", testing.free_port())
    try:
        reader = open_window("alice's mail")
        reader.page.goto(f"http://127.0.0.1:{inbox.server_port}/")
        reader.page.click(f"a:text-is('{subject}')")
        reader.page.wait_for_selector(f"h1:text-is('{subject}')")
        header = reader.page.locator("tr:has(th:text-is('List-Unsubscribe')) td").inner_text()
        assert "carol was added to the chat" in reader.page.locator("pre").inner_text()
        screenshot(reader.page, "production-inbox.png")
    finally:
        inbox.shutdown()
        inbox.server_close()
    link = re.fullmatch(r"<(\S+)>", header.strip())[1]
    assert link.startswith(f"{stack.url}/")
    response = reader.page.goto(link)  # no session: a mail client's browser
    assert response.status == 200
    reader.page.click("button:has-text('Stop emails about “Launch”')")
    reader.page.wait_for_selector("h1:text-is('Unsubscribed')")
    assert "no more emails about the chat “Launch”" in reader.page.inner_text("main")
    screenshot(reader.page, "production-unsubscribed.png")

    # Her settings page says so, and the next join emails carol, not her.
    page.goto(f"{stack.url}/settings/email/")
    row = page.locator("#chats tr", has_text="Launch")
    assert row.locator("td").nth(1).inner_text() == "off"
    screenshot(page, "production-email-settings.png")
    add_member(bob_window, chat.pk, dave)
    next_subject = "[Launch] dave joined the chat"
    testing.wait_until(lambda: mails_to(stack, carol.email, next_subject), 30, "carol's email")
    assert mails_to(stack, alice.email, next_subject) == []
    assert not Notification.objects.filter(recipient_id=alice.pk, subject=next_subject).exists()

    for window in (alice_window, bob_window):
        assert window.errors == [], window.name
        assert window.insecure == [], window.name
