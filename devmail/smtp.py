"""The SMTP side: aiosmtpd's `Mailbox` handler (which stores each message in a Maildir, with the
envelope as `X-MailFrom` / `X-RcptTo` headers), plus what the failure tests need of a server:

- `refuse`: RCPT TO for these addresses answers 550 (a permanent failure);
- `delay`: take this many seconds to accept each message, as a remote provider does (each
  connection waits on its own, so parallel senders overlap);
- `silent_server`: a port that accepts connections and never answers (a hung server).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult

from .inbox import open_maildir


class DevMailbox(Mailbox):
    """`Mailbox`, refusing the listed recipients and taking `delay` seconds per message."""

    def __init__(self, mail_dir: Path | str, refuse: Iterable[str] = (), delay: float = 0) -> None:
        open_maildir(mail_dir)  # its subfolders, which Mailbox's Maildir would not make
        super().__init__(mail_dir)
        self.refuse = {address.lower() for address in refuse}
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address: str, options) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(self.delay)  # only this connection waits
        return await super().handle_DATA(server, session, envelope)


def accept_any_login(server, session, envelope, mechanism: str, auth_data: Any) -> AuthResult:
    """Any EMAIL_HOST_USER / EMAIL_HOST_PASSWORD will do (over plain TCP): a local sink."""
    return AuthResult(success=True, auth_data=auth_data)


def smtp_server(
    mail_dir: Path | str, host: str, port: int, refuse: Iterable[str] = (), delay: float = 0
) -> Controller:
    """The server in a thread of this process; `.start()` it."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # one INFO line per SMTP command
    return Controller(
        DevMailbox(mail_dir, refuse, delay),
        hostname=host,
        port=port,
        server_hostname="devmail.local",
        ident="Chat Platform devmail",
        auth_require_tls=False,
        authenticator=accept_any_login,
    )


def silent_server(host: str, port: int) -> socket.socket:
    """A listening socket nobody accepts from: the kernel completes each connection, and the
    client then waits for a greeting that never comes, as with a hung SMTP server. Keep it."""
    return socket.create_server((host, port), backlog=128)
