"""What one user consented to, next to Django's user (whose model the project keeps).

A user without a Profile row has the defaults: address not confirmed, added to chats only by
people they already share one with, email on. So an account created by any path (the admin,
a script, `createsuperuser`) gets no email until its address is confirmed.
"""

from django.conf import settings
from django.db import models


class AddPolicy(models.TextChoices):
    """Who may add the user to a chat directly; anyone else's add becomes an invitation."""

    EVERYONE = "everyone", "Everyone"
    CONTACTS = "contacts", "People I already share a chat with"
    NOBODY = "nobody", "Nobody"


DEFAULT_ADD_POLICY = AddPolicy.CONTACTS


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="profile"
    )
    # The address the user proved they read; email goes only while it is still the user's
    # address, so changing the address (in the admin) needs a new confirmation.
    confirmed_email = models.EmailField(blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    who_can_add = models.CharField(
        max_length=10, choices=AddPolicy.choices, default=DEFAULT_ADD_POLICY
    )
    # "All email from this platform" off: the unsubscribe page and the settings page set it.
    email_off = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"

    @property
    def is_confirmed(self) -> bool:
        return bool(self.confirmed_email) and self.confirmed_email == self.user.email
