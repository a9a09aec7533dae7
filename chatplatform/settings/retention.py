"""Retention: how long the rows that only grow are kept.

The prune job (metrics.retention, every RETENTION_SECONDS) deletes in small batches what is
older than these; totals do not change when it does (core.tallies counts as rows finish).
Report folders have their own bound (REPORTS_KEEP_*, in base). A malformed value stops the
process at start, naming the variable.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import REPORTS_RANGE_DAYS, whole_number

# Delivered outbox rows (sent emails and live events, held emails folded into a digest, emails
# cancelled because their recipient stopped taking email): kept
# long enough to answer "did my email go out?" for a month, and for the reports' 30 days.
RETENTION_SENT_DAYS = whole_number("RETENTION_SENT_DAYS", 31)
# Given-up rows keep their error for an operator to read; longer than the delivered ones.
RETENTION_FAILED_DAYS = whole_number("RETENTION_FAILED_DAYS", 90)
# The rate limits' refusal rows (ratelimits.RefusedAttempt, one per limit, ident and hour).
RETENTION_REFUSALS_DAYS = whole_number("RETENTION_REFUSALS_DAYS", 30)
# Rows deleted per statement: each delete is its own short transaction (no long locks).
RETENTION_BATCH_SIZE = whole_number("RETENTION_BATCH_SIZE", 1000)

# Sent and failed emails outlive what reads them: each report shows the emails of its
# REPORTS_RANGE_DAYS (from the start of its first day), and the per-inbox cap counts those of its
# period (at most a day, so more than one day covers it).
for _name, _days in (
    ("RETENTION_SENT_DAYS", RETENTION_SENT_DAYS),
    ("RETENTION_FAILED_DAYS", RETENTION_FAILED_DAYS),
):
    if _days <= max(REPORTS_RANGE_DAYS, 1):
        raise ImproperlyConfigured(
            f"{_name} must be more than REPORTS_RANGE_DAYS ({REPORTS_RANGE_DAYS}) and than one"
            f" day (the reports and the per-inbox cap EMAIL_RECIPIENT_LIMIT read those emails);"
            f" got {_days}"
        )
