"""Retention: how long the rows that only grow are kept.

The prune job (metrics.retention, every RETENTION_SECONDS) deletes in small batches what is
older than these; totals do not change when it does (core.tallies counts as rows finish).
Report folders have their own bound (REPORTS_KEEP_*, in base). A malformed value stops the
process at start, naming the variable.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import whole_number
from .mail import EMAIL_RECIPIENT_LIMIT

_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# Delivered outbox rows (sent emails and live events, held emails folded into a digest): kept
# long enough to answer "did my email go out?" for a month.
RETENTION_SENT_DAYS = whole_number("RETENTION_SENT_DAYS", 30)
# Given-up rows keep their error for an operator to read; longer than the delivered ones.
RETENTION_FAILED_DAYS = whole_number("RETENTION_FAILED_DAYS", 90)
# The rate limits' refusal rows (ratelimits.RefusedAttempt, one per limit, ident and hour).
RETENTION_REFUSALS_DAYS = whole_number("RETENTION_REFUSALS_DAYS", 30)
# Rows deleted per statement: each delete is its own short transaction (no long locks).
RETENTION_BATCH_SIZE = whole_number("RETENTION_BATCH_SIZE", 1000)

# The per-inbox cap counts the sent and failed emails of its period: pruning inside that period
# would let an inbox receive more than the cap.
if EMAIL_RECIPIENT_LIMIT:
    _period = _PERIOD_SECONDS[EMAIL_RECIPIENT_LIMIT.split("/")[1][0]]
    if min(RETENTION_SENT_DAYS, RETENTION_FAILED_DAYS) * 86400 <= _period:
        raise ImproperlyConfigured(
            "RETENTION_SENT_DAYS and RETENTION_FAILED_DAYS must be longer than the period of"
            f" EMAIL_RECIPIENT_LIMIT ({EMAIL_RECIPIENT_LIMIT})"
        )
