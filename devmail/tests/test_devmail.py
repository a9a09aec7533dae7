"""The development SMTP server of `make up` (`manage.py run_devmail`) and the test SMTP servers:
what a developer sees in the web inbox, and what each failure mode answers a sender.
"""

from __future__ import annotations

import json
import os
import smtplib
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

import testing


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def an_email(
    n: int = 7, to: str = "adam@example.com", subject: str = "[Design review] nina joined the chat"
) -> EmailMessage:
    """An email shaped like the platform's: both parts, a Message-ID per notification."""
    message = EmailMessage()
    message["Subject"], message["To"] = subject, to
    message["From"] = "Chat Platform <noreply@chatplatform.local>"
    message["Message-ID"] = f"<notification-{n}@chatplatform.local>"
    message.set_content('nina was added to the chat "Design review" by alex.')
    message.add_alternative("<p><strong>nina</strong> was added by alex.</p>", subtype="html")
    return message


def send(port: int, message: EmailMessage, timeout: float = 2) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as smtp:
        smtp.send_message(message)


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

    [stored] = (tmp_path / "new").iterdir()  # a Maildir: any mail client opens the folder
    assert b"Message-ID: <notification-7@chatplatform.local>" in stored.read_bytes()
    assert b"X-RcptTo: adam@example.com" in stored.read_bytes()  # the envelope, for the tests
    status, page = fetch(devmail.web + "/")
    assert status == 200
    assert "[Design review] nina joined the chat" in page
    assert "adam@example.com" in page
    assert "&lt;notification-7@chatplatform.local&gt;" in page
    [summary] = json.loads(fetch(devmail.web + "/api/messages")[1])
    assert summary["id"] == stored.name
    assert summary["message_id"] == "<notification-7@chatplatform.local>"
    assert summary["envelope_to"] == ["adam@example.com"]

    status, message = fetch(f"{devmail.web}/messages/{stored.name}")
    assert status == 200
    assert "nina was added to the chat &quot;Design review&quot; by alex." in message
    assert "&lt;strong&gt;nina&lt;/strong&gt;" in message  # the HTML part, in a sandboxed frame
    assert "<iframe sandbox" in message
    raw_status, raw = fetch(f"{devmail.web}/messages/{stored.name}/raw")
    assert raw_status == 200 and "Message-ID: <notification-7@chatplatform.local>" in raw
    assert fetch(devmail.web + "/messages/..%2F..%2Fetc%2Fpasswd")[0] == 404
    assert fetch(devmail.web + "/messages/nothing-here")[0] == 404


def test_html_in_a_subject_is_shown_as_text_not_run(devmail):
    send(devmail.smtp_port, an_email(subject='<script>alert("inbox")</script> & co'))

    escaped = "&lt;script&gt;alert(&quot;inbox&quot;)&lt;/script&gt; &amp; co"
    [summary] = json.loads(fetch(devmail.web + "/api/messages")[1])
    for url in ("/", f"/messages/{summary['id']}"):
        page = fetch(devmail.web + url)[1]
        assert escaped in page
        assert "<script>" not in page


def test_a_refused_recipient_gets_550_and_the_others_their_email():
    with testing.SmtpProcess(refuse=("refused@example.com",)) as server:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(server.port, an_email(to="refused@example.com"))
        assert refused.value.recipients == {
            "refused@example.com": (550, b"5.1.1 <refused@example.com>: Recipient address rejected")
        }
        send(server.port, an_email(n=8))
        [mail] = server.inbox.messages()
        assert (mail.message_id, mail.to, mail.envelope_to) == (
            "<notification-8@chatplatform.local>",
            "adam@example.com",
            ["adam@example.com"],
        )
        assert mail.sender == "Chat Platform <noreply@chatplatform.local>"
        assert mail.subject == "[Design review] nina joined the chat"
        assert 'nina was added to the chat "Design review" by alex.' in mail.text
        assert "<strong>nina</strong>" in mail.html


def test_a_silent_server_never_answers_and_a_stopped_one_refuses():
    with testing.SmtpProcess(silent=True) as silent, pytest.raises(OSError, match="timed out"):
        send(silent.port, an_email(), timeout=0.5)
    with pytest.raises(ConnectionRefusedError):
        send(silent.port, an_email())


def test_a_stopped_server_comes_back_on_the_same_port_with_its_inbox():
    server = testing.SmtpProcess().start()
    try:
        send(server.port, an_email(n=1))
        server.stop()
        server.start()
        send(server.port, an_email(n=2))
        assert [m.message_id for m in server.inbox.messages()] == [
            "<notification-1@chatplatform.local>",
            "<notification-2@chatplatform.local>",
        ]
        server.inbox.clear()
        assert server.inbox.count() == 0
    finally:
        server.stop()


def test_a_delay_holds_each_message_without_holding_up_the_other_connections():
    with testing.SmtpProcess(delay=1.0) as server:
        senders = [threading.Thread(target=send, args=(server.port, an_email(n))) for n in (1, 2)]
        started = time.monotonic()
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        elapsed = time.monotonic() - started
        assert server.inbox.count() == 2
    assert 1.0 <= elapsed < 1.9, elapsed  # one delay, not two in a row
