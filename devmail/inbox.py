"""Reading what the development SMTP server received: a `mailbox.Maildir`, oldest first.

Maildir writes each message to `tmp/` and then renames it into `new/`, so a reader never sees half
a message, and any mail client opens the folder. The envelope recipients are the `X-RcptTo` header
aiosmtpd's handler adds, so a test reads the whole delivery from the folder alone.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path

# A Maildir name starts with seconds and microseconds, the latter not zero-padded.
ARRIVAL = re.compile(r"(\d+)\.M(\d+)")


def open_maildir(mail_dir: Path | str) -> mailbox.Maildir:
    """`mailbox.Maildir` makes tmp/new/cur only in a folder it creates itself; a folder that
    already exists (a test's temporary one, or the old `var/mail`) needs them as well."""
    for sub in ("tmp", "new", "cur"):
        (Path(mail_dir) / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(mail_dir)


def _header(name: str) -> property:
    return property(lambda mail: mail.header(name), doc=f"The {name} header, or ''.")


@dataclass
class Mail:
    """One received email, as stored (`raw`) and parsed."""

    name: str
    raw: bytes

    sender = _header("From")
    to = _header("To")
    subject = _header("Subject")
    message_id = _header("Message-ID")
    date = _header("Date")

    @cached_property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    def header(self, name: str) -> str:
        return str(self.message.get(name, "")).strip()

    @property
    def envelope_to(self) -> list[str]:
        return [a.strip() for a in self.header("X-RcptTo").split(",") if a.strip()]

    @property
    def text(self) -> str | None:
        return self.part("plain")

    @property
    def html(self) -> str | None:
        return self.part("html")

    def part(self, subtype: str) -> str | None:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else None


class Inbox:
    """The emails in `mail_dir`, oldest first."""

    def __init__(self, mail_dir: Path | str) -> None:
        self.mail_dir = Path(mail_dir)
        self.maildir = open_maildir(mail_dir)

    def names(self) -> list[str]:
        def arrival(name: str) -> tuple[int, int, str]:
            match = ARRIVAL.match(name)
            return (int(match[1]), int(match[2]), name) if match else (0, 0, name)

        return sorted(self.maildir.keys(), key=arrival)

    def get(self, name: str) -> Mail | None:
        """None for a name that is not a message here (never a path: Maildir looks names up)."""
        try:
            return Mail(name, self.maildir.get_bytes(name))
        except (KeyError, FileNotFoundError):
            return None

    def messages(self) -> list[Mail]:
        return [mail for mail in map(self.get, self.names()) if mail is not None]

    def count(self) -> int:
        return len(self.maildir)

    def clear(self) -> None:
        self.maildir.clear()
