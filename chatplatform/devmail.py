"""A development SMTP server that keeps what it receives, and a small web inbox to read it.

One place for the mail sink used by `manage.py run_devmail` (the `mail` process of `make up`), by
the tests (`testing.smtp_process`) and by the email benchmark. Each received message is written
as one `.eml` file (atomically: a reader never sees half a message) with the envelope added as
`X-MailFrom` / `X-RcptTo` headers, so a test reads the inbox from the directory alone.

Modes, for tests of the failure paths:
- `refuse`: RCPT TO for these addresses answers 550 (a permanent failure);
- `silent`: accept TCP connections and never answer (a hung SMTP server);
- `delay`: take this many seconds to accept each message, as a remote provider does (each
  connection waits on its own, so parallel senders overlap).

Run standalone (no Django needed): `python -m chatplatform.devmail --port 1025 --dir var/mail`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import html
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

logger = logging.getLogger(__name__)
NAME_RE = re.compile(r"^[0-9]+-[0-9]+\.eml$")


# --- the SMTP sink -------------------------------------------------------------------------------


class MailSink:
    """aiosmtpd handler: refuse the listed recipients with 550, store every message as `.eml`
    (after `delay` seconds, without blocking other connections)."""

    def __init__(
        self, mail_dir: Path | str, refuse: Iterable[str] = (), delay: float = 0.0
    ) -> None:
        self.delay = delay
        self.mail_dir = Path(mail_dir)
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.refuse = {address.lower() for address in refuse}
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        head = (
            f"X-MailFrom: {envelope.mail_from}\r\nX-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        self.store(head + content)
        return "250 Message accepted for delivery"

    def store(self, raw: bytes) -> Path:
        """Write to a temporary name, then rename: the inbox only ever lists whole messages."""
        with self._lock:
            name = f"{time.time_ns()}-{next(self._seq):06d}.eml"
        path = self.mail_dir / name
        tmp = self.mail_dir / f".{name}.tmp"
        tmp.write_bytes(raw)
        os.replace(tmp, path)
        return path


def smtp_controller(
    mail_dir: Path | str,
    host: str = "127.0.0.1",
    port: int = 1025,
    refuse: Iterable[str] = (),
    delay: float = 0.0,
):
    """An aiosmtpd server in a thread of this process; `.start()` / `.stop()` it."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # one INFO line per SMTP command
    return Controller(
        MailSink(mail_dir, refuse, delay),
        hostname=host,
        port=port,
        server_hostname="devmail.local",
        ident="Chat Platform devmail",
        # Any EMAIL_HOST_USER / EMAIL_HOST_PASSWORD is accepted, over plain TCP: a local sink.
        auth_require_tls=False,
        authenticator=lambda server, session, envelope, mechanism, auth_data: AuthResult(
            success=True, auth_data=auth_data
        ),
    )


class SilentServer:
    """Accepts TCP connections and never says a word: an SMTP server that hangs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> SilentServer:
        self.sock.listen(128)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)  # kept open, never read, never answered

    def stop(self) -> None:
        self.sock.close()
        for conn in self.held:
            with contextlib.suppress(OSError):
                conn.close()


# --- reading the inbox ---------------------------------------------------------------------------


@dataclass
class StoredMessage:
    """One received email, parsed; the envelope comes from the X-MailFrom / X-RcptTo headers."""

    name: str
    message: EmailMessage

    @property
    def envelope_to(self) -> list[str]:
        return [a.strip() for a in str(self.message.get("X-RcptTo", "")).split(",") if a.strip()]

    @property
    def sender(self) -> str:
        return str(self.message.get("From", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def message_id(self) -> str:
        return str(self.message.get("Message-ID", "")).strip()

    def part(self, content_type: str) -> str | None:
        body = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        return body.get_content() if body is not None else None

    @property
    def text(self) -> str | None:
        return self.part("text/plain")

    @property
    def html(self) -> str | None:
        return self.part("text/html")

    def summary(self) -> dict[str, object]:
        return {
            "id": self.name,
            "from": self.sender,
            "to": self.to,
            "envelope_to": self.envelope_to,
            "subject": self.subject,
            "message_id": self.message_id,
            "date": str(self.message.get("Date", "")),
        }


class Inbox:
    """The messages a sink stored in `mail_dir`, oldest first."""

    def __init__(self, mail_dir: Path | str) -> None:
        self.mail_dir = Path(mail_dir)

    def names(self) -> list[str]:
        if not self.mail_dir.is_dir():
            return []
        return sorted(p.name for p in self.mail_dir.iterdir() if NAME_RE.match(p.name))

    def get(self, name: str) -> StoredMessage | None:
        if not NAME_RE.match(name):
            return None
        path = self.mail_dir / name
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            message = email.message_from_binary_file(fh, policy=email.policy.default)
        return StoredMessage(name, message)

    def messages(self) -> list[StoredMessage]:
        return [m for m in (self.get(name) for name in self.names()) if m is not None]

    def count(self) -> int:
        return len(self.names())

    def clear(self) -> None:
        for name in self.names():
            with contextlib.suppress(FileNotFoundError):
                (self.mail_dir / name).unlink()


# --- the web inbox -------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}} table{{border-collapse:collapse;
width:100%}} td,th{{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;
vertical-align:top}} th{{background:#f4f4f4}} code,pre{{font-size:.85rem}} pre{{background:#f7f7f7;
padding:1rem;white-space:pre-wrap}} iframe{{width:100%;height:24rem;border:1px solid #ddd}}
</style></head><body>{body}</body></html>"""


def render_list(inbox: Inbox) -> str:
    rows = []
    for msg in reversed(inbox.messages()):
        date = html.escape(str(msg.message.get("Date", "")))
        subject = html.escape(msg.subject or "(no subject)")
        rows.append(
            f"<tr><td>{date}</td><td>{html.escape(msg.sender)}</td><td>{html.escape(msg.to)}</td>"
            f'<td><a href="/messages/{msg.name}">{subject}</a></td>'
            f"<td><code>{html.escape(msg.message_id)}</code></td></tr>"
        )
    table = (
        "<table><tr><th>Date</th><th>From</th><th>To</th><th>Subject</th><th>Message-ID</th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else "<p>No email yet. Add a member to a chat and reload.</p>"
    )
    where = html.escape(str(inbox.mail_dir))
    body = f"<h1>Development inbox</h1><p>{len(rows)} message(s) in <code>{where}</code></p>{table}"
    return PAGE.format(title="Development inbox", body=body)


def render_message(msg: StoredMessage) -> str:
    headers = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in msg.message.items()
    )
    text = msg.text
    html_part = msg.html
    body = (
        f'<p><a href="/">&larr; inbox</a> · <a href="/messages/{msg.name}/raw">raw</a></p>'
        f"<h1>{html.escape(msg.subject)}</h1><table>{headers}</table>"
    )
    if text is not None:
        body += f"<h2>Plain text</h2><pre>{html.escape(text)}</pre>"
    if html_part is not None:
        # Shown in a sandboxed frame: the email's HTML cannot run scripts in the inbox's page.
        body += f'<h2>HTML</h2><iframe sandbox srcdoc="{html.escape(html_part)}"></iframe>'
    return PAGE.format(title=html.escape(msg.subject), body=body)


class InboxHandler(BaseHTTPRequestHandler):
    inbox: Inbox

    def do_GET(self) -> None:
        path = unquote(self.path.split("?", 1)[0])
        if path == "/":
            return self._send(200, render_list(self.inbox))
        if path == "/api/messages":
            payload = json.dumps([m.summary() for m in self.inbox.messages()])
            return self._send(200, payload, "application/json")
        if path.startswith("/messages/"):
            name, _, raw = path.removeprefix("/messages/").partition("/")
            msg = self.inbox.get(name)
            if msg is not None and raw == "raw":
                return self._send(200, msg.message.as_bytes(), "message/rfc822")
            if msg is not None and not raw:
                return self._send(200, render_message(msg))
        return self._send(404, PAGE.format(title="Not found", body="<p>No such message.</p>"))

    def _send(self, status: int, body: str | bytes, ctype: str = "text/html") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("web inbox: " + format, *args)


def web_inbox(
    mail_dir: Path | str, host: str = "127.0.0.1", port: int = 8025
) -> ThreadingHTTPServer:
    """The inbox page on http://host:port/; call `.serve_forever()` (in a thread) to run it."""
    handler = type("Handler", (InboxHandler,), {"inbox": Inbox(mail_dir)})
    return ThreadingHTTPServer((host, port), handler)


def serve(
    mail_dir: Path | str,
    host: str = "127.0.0.1",
    port: int = 1025,
    web_port: int | None = None,
    refuse: Iterable[str] = (),
    silent: bool = False,
    delay: float = 0.0,
) -> None:
    """Run until killed: the SMTP sink (or a silent server) and, if asked, the web inbox."""
    if silent:
        SilentServer(host, port).start()
        print(f"silent SMTP server on {host}:{port} (accepts, never answers)", flush=True)
    else:
        smtp_controller(mail_dir, host, port, refuse, delay).start()
        print(f"SMTP sink on {host}:{port}, storing into {mail_dir}", flush=True)
    if web_port:
        web = web_inbox(mail_dir, host, web_port)
        threading.Thread(target=web.serve_forever, daemon=True).start()
        print(f"web inbox on http://{host}:{web_port}/", flush=True)
    threading.Event().wait()


def add_arguments(
    parser: argparse.ArgumentParser,
    port: int = 1025,
    web_port: int = 0,
    mail_dir: str | None = None,
) -> None:
    """The options of `main`, also those of `manage.py run_devmail` (which passes its settings
    as the defaults), so the two commands cannot drift apart."""
    parser.add_argument("--host", default="127.0.0.1", help="address both servers bind to")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--web-port", type=int, default=web_port, help="0: no web inbox")
    parser.add_argument(
        "--dir", default=mail_dir, required=mail_dir is None, help="where the .eml files go"
    )
    parser.add_argument("--refuse", action="append", default=[], help="answer 550 to this RCPT")
    parser.add_argument("--silent", action="store_true", help="accept TCP, never answer")
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds to take accepting each message"
    )


def serve_options(options: Mapping[str, Any]) -> None:
    """`serve` with the options `add_arguments` defined, as parsed (`vars(args)` or Django's)."""
    serve(
        options["dir"],
        options["host"],
        options["port"],
        options["web_port"] or None,
        options["refuse"],
        options["silent"],
        options.get("delay") or 0.0,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Development SMTP sink with a web inbox.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    serve_options(vars(args))


if __name__ == "__main__":
    main()
