"""The development SMTP server of `make up` (`manage.py run_devmail`) and the test SMTP servers:
what a developer sees in the web inbox, and how the email code classifies each server's answer.
"""

from __future__ import annotations

import json
import os
import smtplib
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from django.core.mail import get_connection

import testing
from chats import email_delivery
from chats.models import Notification


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def an_email(pk: int = 7, to: str = "adam@example.com") -> Notification:
    return Notification(
        pk=pk,
        subject="[Design review] nina joined the chat",
        recipient_email=to,
        body_text='nina was added to the chat "Design review" by alex.',
        body_html="<p><strong>nina</strong> was added by alex.</p>",
    )


def send(port: int, notification: Notification, timeout: float = 2) -> None:
    connection = get_connection(
        backend="django.core.mail.backends.smtp.EmailBackend",
        host="127.0.0.1",
        port=port,
        timeout=timeout,
        username="",
        password="",
        use_tls=False,
        use_ssl=False,
    )
    email_delivery.build_email(notification, connection).send()


@pytest.fixture
def devmail(tmp_path) -> Iterator[testing.ManagedProcess]:
    """`manage.py run_devmail` as `make up` runs it, on free ports and a temporary mail dir."""
    port, web_port = testing.free_port(), testing.free_port()
    argv = [sys.executable, "manage.py", "run_devmail", "--port", str(port)]
    argv += ["--web-port", str(web_port), "--dir", str(tmp_path)]
    proc = testing.ManagedProcess("devmail", argv, env=dict(os.environ), port=web_port).start()
    testing.wait_until(lambda: testing.port_open(port), 10, "the SMTP port")
    proc.smtp_port, proc.web = port, f"http://127.0.0.1:{web_port}"
    yield proc
    proc.stop()


def test_run_devmail_keeps_each_email_and_shows_it_in_the_web_inbox(devmail, tmp_path):
    send(devmail.smtp_port, an_email())

    [stored] = tmp_path.glob("*.eml")
    status, page = fetch(devmail.web + "/")
    assert status == 200
    assert "[Design review] nina joined the chat" in page
    assert "adam@example.com" in page
    assert "&lt;notification-7@chatplatform.local&gt;" in page
    [summary] = json.loads(fetch(devmail.web + "/api/messages")[1])
    assert summary["id"] == stored.name
    assert summary["message_id"] == "<notification-7@chatplatform.local>"

    status, message = fetch(f"{devmail.web}/messages/{stored.name}")
    assert status == 200
    assert "nina was added to the chat &quot;Design review&quot; by alex." in message
    assert "&lt;strong&gt;nina&lt;/strong&gt;" in message  # the HTML part, in a sandboxed frame
    assert "<iframe sandbox" in message
    raw_status, raw = fetch(f"{devmail.web}/messages/{stored.name}/raw")
    assert raw_status == 200 and "Message-ID: <notification-7@chatplatform.local>" in raw
    assert fetch(devmail.web + "/messages/..%2F..%2Fetc%2Fpasswd")[0] == 404


def test_a_refused_recipient_is_a_permanent_failure():
    with testing.SmtpProcess(refuse=("refused@example.com",)) as server:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(server.port, an_email(to="refused@example.com"))
        assert email_delivery.classify(refused.value) is email_delivery.PermanentEmailError
        assert email_delivery.describe(refused.value) == (
            "SMTPRecipientsRefused: 550 5.1.1 <refused@example.com>: Recipient address rejected"
        )
        send(server.port, an_email(pk=8))
        assert [m.message_id for m in server.inbox.messages()] == [
            "<notification-8@chatplatform.local>"
        ]


def test_a_silent_or_absent_server_is_a_transient_failure():
    with testing.SmtpProcess(silent=True) as silent:
        with pytest.raises(OSError) as hung:
            send(silent.port, an_email(), timeout=0.5)
        assert "timed out" in str(hung.value)
        assert email_delivery.classify(hung.value) is email_delivery.TransientEmailError
    with pytest.raises(OSError) as refused:
        send(silent.port, an_email())  # stopped: connection refused
    assert email_delivery.classify(refused.value) is email_delivery.TransientEmailError


def test_a_stopped_server_comes_back_on_the_same_port_with_its_inbox():
    server = testing.SmtpProcess().start()
    try:
        send(server.port, an_email(pk=1))
        server.stop()
        server.start()
        send(server.port, an_email(pk=2))
        assert [m.message_id for m in server.inbox.messages()] == [
            "<notification-1@chatplatform.local>",
            "<notification-2@chatplatform.local>",
        ]
    finally:
        server.stop()


@pytest.mark.django_db
def test_the_rows_attempt_count_bounds_retries_even_across_sweeper_requeues(settings):
    """A re-queued task starts its own retry count at 0; the row's count still ends it."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", testing.free_port()  # nobody there
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    row = Notification.objects.create(
        event="member_added", chat_id=1, recipient_id=1, recipient_email="adam@example.com",
        subject="s", body_text="b", body_html="<p>b</p>", attempts=1,
    )  # fmt: skip
    with pytest.raises(email_delivery.TransientEmailError):
        email_delivery.deliver_notification(row.pk)  # attempt 2 of 3: released for a retry
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 2)
    with pytest.raises(email_delivery.EmailGaveUp):  # not retried: the task fails, visibly
        email_delivery.deliver_notification(row.pk)  # attempt 3 of 3: the last one
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert "refused" in row.last_error.lower() or "connect" in row.last_error.lower()
