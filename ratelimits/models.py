"""The refusals an admin sees: bounded storage, one row per limit, ident and hour with a count."""

from django.db import models


class Scope(models.TextChoices):
    """Which limit refused; each is one DRF throttle of ratelimits.throttles."""

    AUTH_CLIENT = "auth-client", "Login/token attempts from one client address"
    AUTH_ACCOUNT = "auth-account", "Login/token attempts for one account"
    REGISTER_CLIENT = "register-client", "Registrations from one client address"
    CONFIRM_CLIENT = "confirm-client", "Confirmation emails asked for from one client address"
    WRITE_USER = "write-user", "Writes (messages, members, chats) by one user"
    LIVE_LAG_USER = "live-lag-user", "Live lag reports from one user's chat pages"


class RefusedAttempt(models.Model):
    """How many requests one limit refused for one client address, account or user in one hour.

    Upserted at most once a minute per limit and ident (ratelimits.throttles.record_refusal,
    the refusals in between counted in the cache and added by the admin), so an attacker's flood
    adds one row an hour and a write a minute, not one a request.
    """

    scope = models.CharField(max_length=20, choices=Scope.choices)
    # The client (an IPv4 address, an IPv6 /64), the account name as posted (normalised) or the
    # user's name: what the throttle's cache key is made of, so the admin can clear it.
    ident = models.CharField(max_length=150)
    hour = models.DateTimeField(help_text="Start of the hour (UTC) the refusals fell in.")
    count = models.PositiveIntegerField(default=0)
    last_refused_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "ident", "hour"], name="one_row_per_hour")
        ]
        indexes = [models.Index(fields=["-hour"], name="refusals_by_hour")]
        ordering = ["-hour", "-count"]
        verbose_name = "refused attempt"

    def __str__(self) -> str:
        return f"{self.get_scope_display()}: {self.ident} x{self.count} at {self.hour:%Y-%m-%d %H}h"
