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

from accounts.addresses import canonical
from chats.emails.recording import rendered
from chats.models import Notification, Role
from core.outbox import OutboxStatus

from .cast import Cast

EMAIL_RETRIED = 0.06
EMAIL_REFUSED = 0.02
# The two hours the mail server was unreachable, from the hour of the history's middle email:
# so the outage always has emails, whatever day the history ends. Each was retried, and gave
# up unless its retries outlasted the outage.
OUTAGE = timedelta(hours=2)


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
                    found.append(
                        Email(at, event, stint.chat, recipient, stint.user, actor or stint.user)
                    )
    found.sort(key=lambda email: email.at)
    if found:
        began = found[len(found) // 2].at.replace(minute=0, second=0, microsecond=0)
        for email in found:
            _deliver(rng, email, outage=(began, began + OUTAGE))
    return found


def _deliver(rng: random.Random, email: Email, outage: tuple[datetime, datetime]) -> None:
    """The outcome: sent in about a second, or after retries (backoff up to a minute), or
    refused (5xx, one attempt), or, during the outage, every attempt: given up unless the
    last one came after the outage ended."""
    at = email.at
    latency = rng.lognormvariate(math.log(1.2), 0.5)
    if outage[0] <= at < outage[1]:
        email.attempts = settings.NOTIFICATION_MAX_ATTEMPTS
        latency += _backoff(rng, email.attempts - 1)
        if at + timedelta(seconds=latency) < outage[1]:
            email.status = OutboxStatus.FAILED
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
                recipient_key=canonical(f"{email.recipient}@example.com"),
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
