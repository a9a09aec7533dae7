"""`manage.py run_devmail`: the development SMTP server and its web inbox (the `mail` process of
`make up`), and the test tooling's SMTP server (`testing.SmtpProcess`), one entry point for both.

Every email lands in the Maildir `DEV_MAIL_DIR` and is listed on http://127.0.0.1:$SMTP_WEB_PORT/.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from devmail.smtp import silent_server, smtp_server
from devmail.web import start_web_inbox


class Command(BaseCommand):
    help = "Run the development SMTP server (EMAIL_PORT) and its web inbox (SMTP_WEB_PORT)."
    requires_system_checks: list[str] = []  # a mail sink: it starts in the tests, many times

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address both servers bind to")
        parser.add_argument("--port", type=int, default=settings.EMAIL_PORT)
        parser.add_argument(
            "--web-port", type=int, default=settings.DEV_SMTP_WEB_PORT, help="0: no web inbox"
        )
        parser.add_argument(
            "--dir", dest="mail_dir", default=str(settings.DEV_MAIL_DIR), help="Maildir"
        )
        parser.add_argument("--refuse", action="append", default=[], help="550 to this RCPT")
        parser.add_argument("--silent", action="store_true", help="accept TCP, never answer")
        parser.add_argument("--delay", type=float, default=0.0, help="seconds per message")

    def handle(
        self,
        *args: object,
        host: str,
        port: int,
        web_port: int,
        mail_dir: str,
        refuse: list[str],
        silent: bool,
        delay: float,
        **options: object,
    ) -> None:
        if silent:
            self.listener = silent_server(host, port)  # held open until the process ends
            self.say(f"silent SMTP server on {host}:{port} (accepts, never answers)")
        else:
            smtp_server(mail_dir, host, port, refuse, delay).start()
            self.say(f"SMTP server on {host}:{port}, storing into the Maildir {mail_dir}")
        if web_port:
            start_web_inbox(mail_dir, host, web_port)
            self.say(f"web inbox on http://{host}:{web_port}/")
        threading.Event().wait()  # until killed

    def say(self, line: str) -> None:
        """Flushed at once: under honcho or a test's log file, stdout is not a terminal."""
        self.stdout.write(line)
        self.stdout.flush()
