"""The membership emails the demo's past joins and leaves would have sent, as delivered: most
sent within seconds, some retried, a few refused, and one afternoon the mail server was down.
Inserted finished (sent or failed), so nothing ever queues or sends them, and the Task health
notebook has a history from the first `make up`."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from chats.emails.recording import rendered
from chats.models import Notification, Role
from core.outbox import OutboxStatus

from .cast import Cast

EMAIL_RETRIED = 0.06
EMAIL_REFUSED = 0.02
# The afternoon the mail server was unreachable: its emails were retried, and many gave up.
OUTAGE_DAY, OUTAGE_HOURS = 9, (14, 16)  # day of the history, [first, last) hour UTC
OUTAGE_GAVE_UP = 0.3


@dataclass
class Email:
    """One past membership email, as delivered: `done` is when it was sent (or given up)."""

    at: datetime
    event: str
    chat: int
    recipient: str
    subject: str  # the member who joined or left
    actor: str
    status: str = OutboxStatus.SENT
    attempts: int = 1
    done: datetime | None = None
    error: str = ""


def emails(rng: random.Random, cast: Cast, start: datetime) -> list[Email]:
    """The emails each join and leave sent to the chat's other owner and admins (as
    chats.emails.recording records them), with their outcome, sorted by time."""
    outage_day = (start + timedelta(days=OUTAGE_DAY)).date()
    found = []
    for stint in cast.stints:
        if stint.role == Role.OWNER:
            continue  # the creator: the chat's first member, nobody to tell
        changes = [(stint.joined, Notification.Event.MEMBER_ADDED)]
        if stint.left:
            changes.append((stint.left, Notification.Event.MEMBER_REMOVED))
        for at, event in changes:
            admins = [u for u in cast.admins(stint.chat, at) if u != stint.user]
            if not admins:
                continue
            # Added by one of the admins; a member who leaves does it themselves.
            actor = rng.choice(admins) if event == Notification.Event.MEMBER_ADDED else None
            for recipient in admins:
                if recipient != actor:
                    email = Email(at, event, stint.chat, recipient, stint.user, actor or stint.user)
                    _deliver(rng, email, outage_day)
                    found.append(email)
    return sorted(found, key=lambda email: email.at)


def _deliver(rng: random.Random, email: Email, outage_day: object) -> None:
    """The outcome: sent in about a second, or after retries (backoff up to a minute), or
    refused (5xx, one attempt), or given up after every attempt during the outage."""
    at = email.at
    latency = rng.lognormvariate(math.log(1.2), 0.5)
    if at.date() == outage_day and OUTAGE_HOURS[0] <= at.hour < OUTAGE_HOURS[1]:
        email.attempts = rng.randint(3, settings.NOTIFICATION_MAX_ATTEMPTS)
        latency += _backoff(rng, email.attempts)
        if rng.random() < OUTAGE_GAVE_UP:
            email.status = OutboxStatus.FAILED
            email.attempts = settings.NOTIFICATION_MAX_ATTEMPTS
            email.error = "SMTPConnectError: 421 4.3.2 Service not available, try again later"
    elif rng.random() < EMAIL_REFUSED:
        email.status = OutboxStatus.FAILED
        email.error = (
            f"SMTPRecipientsRefused: 550 5.1.1 <{email.recipient}@example.com>: mailbox unavailable"
        )
    elif rng.random() < EMAIL_RETRIED:
        email.attempts = rng.randint(2, 3)
        latency += _backoff(rng, email.attempts)
    email.done = at + timedelta(seconds=latency)


def _backoff(rng: random.Random, attempts: int) -> float:
    """Seconds waited between `attempts` tries: doubling, at most a minute, with jitter."""
    return sum(min(2**k, 60) * rng.uniform(0.5, 1) for k in range(attempts))


def notifications(
    found: list[Email], cast: Cast, user_ids: dict[str, int], chat_ids: list[int]
) -> list[Notification]:
    """The rows of `found`, rendered as chats.emails.recording renders a change's emails."""
    rows = []
    for email in found:
        title = cast.chats[email.chat][0]
        context = {
            "chat_title": title,
            "chat_id": chat_ids[email.chat],
            "event": email.event,
            "actor": email.actor,
            "subject": email.subject,
            "recipient": email.recipient,
        }
        rows.append(
            Notification(
                event=email.event,
                chat_id=chat_ids[email.chat],
                recipient_id=user_ids[email.recipient],
                recipient_email=f"{email.recipient}@example.com",
                status=email.status,
                attempts=email.attempts,
                last_error=email.error,
                created_at=email.at,
                updated_at=email.done,
                done_at=email.done,
                **rendered(email.event, context),
            )
        )
    return rows
