"""The web inbox: the list and one message, as HTML from Django templates (autoescaped), the
list as JSON, and a message as received.

A stdlib HTTP server in a thread of `run_devmail`, not the project's web app: the inbox is there
with only the SMTP server running, on its own port, and has no routes, logins or middleware to
share with the platform.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from django.template.loader import render_to_string

from .inbox import Inbox, Mail

logger = logging.getLogger(__name__)


def summary(mail: Mail) -> dict[str, object]:
    """One row of `/api/messages`."""
    return {
        "id": mail.name,
        "from": mail.sender,
        "to": mail.to,
        "envelope_to": mail.envelope_to,
        "subject": mail.subject,
        "message_id": mail.message_id,
        "date": mail.date,
    }


class InboxPages(BaseHTTPRequestHandler):
    """`/`, `/api/messages`, `/messages/<name>` and `/messages/<name>/raw`; 404 otherwise."""

    mail_dir: Path

    def do_GET(self) -> None:
        inbox = Inbox(self.mail_dir)  # one per request: requests run in threads of their own
        path = unquote(self.path.split("?", 1)[0])
        if path == "/":
            mails = inbox.messages()[::-1]  # newest first
            context = {"mails": mails, "mail_dir": inbox.mail_dir}
            return self.send(200, render_to_string("devmail/inbox.html", context))
        if path == "/api/messages":
            rows = [summary(mail) for mail in inbox.messages()]
            return self.send(200, json.dumps(rows), "application/json")
        name, _, rest = path.removeprefix("/messages/").partition("/")
        mail = inbox.get(name) if path.startswith("/messages/") else None
        if mail is not None and rest == "raw":
            return self.send(200, mail.raw, "message/rfc822")
        if mail is not None and not rest:
            context = {"mail": mail, "headers": mail.message.items()}
            return self.send(200, render_to_string("devmail/message.html", context))
        return self.send(404, render_to_string("devmail/not_found.html"))

    def send(self, status: int, body: str | bytes, content_type: str = "text/html") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("web inbox: " + format, *args)


def start_web_inbox(mail_dir: Path | str, host: str, port: int) -> ThreadingHTTPServer:
    """Serve the inbox of `mail_dir` on http://host:port/ from a daemon thread."""
    handler = type("Pages", (InboxPages,), {"mail_dir": Path(mail_dir)})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
