"""Consent: confirming an address, invitations, and their limits (docs/consent.md)."""

from .base import whole_number
from .security import rate_limit

# How long a confirmation link works; a new one can be asked for from the settings page.
EMAIL_CONFIRMATION_MAX_AGE = whole_number("EMAIL_CONFIRMATION_MAX_AGE", 3 * 24 * 3600)
# Confirmation emails per mailbox (accounts.addresses.canonical): a stranger registering
# someone else's address, again and again under new names, sends it at most this many.
EMAIL_CONFIRMATION_LIMIT = rate_limit("EMAIL_CONFIRMATION_LIMIT", "3/day")
# Confirmation links asked for again (the settings page, the API), per client address.
CONFIRMATION_RATE_LIMIT = rate_limit("CONFIRMATION_RATE_LIMIT", "10/hour")
# Invitations one user may send (each may email its invitee).
INVITATION_LIMIT = rate_limit("INVITATION_LIMIT", "20/hour")
# How long an invitation's link in its email works (the chat page shows it until answered).
INVITATION_MAX_AGE = whole_number("INVITATION_MAX_AGE", 14 * 24 * 3600)
