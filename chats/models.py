"""Chats, memberships, messages, and the outbox rows that say what must happen after a write.

Outbox rows (`Notification`, `Publication`) are written in the same transaction as the change
they describe, so a rollback leaves nothing to deliver and a dead Redis loses nothing.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.outbox import OutboxRow, OutboxStatus
from core.validators import validate_visible_text


class Chat(models.Model):
    title = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Seeded by `manage.py seed_demo` (chats.demo), not created by a user: the admin, the report
    # and the notebooks say so, and seed_demo never adds history once another chat has messages.
    is_demo = models.BooleanField(default=False, help_text="Demo data from manage.py seed_demo.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        """The admin's form checks the title as the API does (no migration: not a field option)."""
        try:
            validate_visible_text(self.title)
        except ValidationError as exc:
            raise ValidationError({"title": exc.messages}) from None


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # An owner or admin can turn off membership emails for this chat.
    email_notifications = models.BooleanField(default=True)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        # The API's pages (cursor pagination on id) without sorting: a chat's members in
        # joining order, and a user's chats.
        indexes = [
            models.Index(fields=["chat", "id"], name="membership_chat_id_idx"),
            models.Index(fields=["user", "chat"], name="membership_user_chat_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["chat", "user"], name="one_membership_per_user_chat"),
            # Exactly one owner: at most one here; the services never remove the last one.
            models.UniqueConstraint(
                fields=["chat"], condition=Q(role="owner"), name="one_owner_per_chat"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "admin", "member"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.chat_id} ({self.role})"


class MembershipEvent(models.Model):
    """Append-only log of joins and leaves: the raw table the statistics read."""

    class Kind(models.TextChoices):
        JOIN = "join", "Join"
        LEAVE = "leave", "Leave"

    chat_id = models.BigIntegerField()
    user_id = models.BigIntegerField()
    kind = models.CharField(max_length=5, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["at"], name="membershipevent_at_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of user {self.user_id} in chat {self.chat_id}"


class Message(models.Model):
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="messages"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["chat", "-created_at", "-id"], name="message_chat_recent_idx"),
            # The statistics fill reads new messages by time slice through this index.
            models.Index(fields=["created_at"], name="message_created_at_idx"),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in chat {self.chat_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


# A held email (over its inbox's cap) is still in flight; one folded into a digest is finished,
# and so is one cancelled at send time because its recipient no longer takes email.
_HELD, _FOLDED, _CANCELLED = "held", "folded", "cancelled"
_NOTIFICATION_IN_FLIGHT = (*OutboxRow.IN_FLIGHT, _HELD)
_NOTIFICATION_FINISHED = (*OutboxRow.FINISHED, _FOLDED, _CANCELLED)


class Notification(OutboxRow):
    """One email to one admin about one membership event; rendered when the event happens.

    Past the per-recipient cap (EMAIL_RECIPIENT_LIMIT) a row is `held`, never queued, and later
    `folded` into a digest: itself a Notification (event `digest`) delivered like any email. A
    row whose recipient no longer takes email when its turn comes ends `cancelled`, not failed.
    """

    class Event(models.TextChoices):
        MEMBER_ADDED = "member_added", "Member added"
        MEMBER_REMOVED = "member_removed", "Member removed"
        CHAT_DELETED = "chat_deleted", "Chat deleted"
        DIGEST = "digest", "Digest"
        # To the user themselves, not to a chat's admins (accounts, chats.invitations).
        CONFIRM_EMAIL = "confirm_email", "Confirm email address"
        INVITATION = "invitation", "Invitation"

    # The outbox's statuses plus three the outbox never claims (claim and the sweeper only take
    # pending and sending), so a held row can be neither sent alone nor re-queued.
    HELD = _HELD
    FOLDED = _FOLDED
    CANCELLED = _CANCELLED  # the send-time consent check (chats.emails.delivery.check_recipient)
    STATUSES = [
        *OutboxStatus.choices,
        (HELD, "Held for a digest"),
        (FOLDED, "Folded into a digest"),
        (CANCELLED, "Cancelled: the recipient no longer takes email"),
    ]
    IN_FLIGHT = _NOTIFICATION_IN_FLIGHT
    FINISHED = _NOTIFICATION_FINISHED

    status = models.CharField(max_length=10, choices=STATUSES, default=OutboxStatus.PENDING)
    event = models.CharField(max_length=20, choices=Event.choices)
    # Plain ids, not foreign keys: the email outlives a deleted chat or user. A digest spans
    # chats: no chat id.
    chat_id = models.BigIntegerField(null=True, blank=True)
    recipient_id = models.BigIntegerField()
    recipient_email = models.EmailField()
    # The mailbox, however the address is spelt (accounts.addresses.canonical): what caps count.
    recipient_key = models.CharField(max_length=254, default="")
    # Room for "[<200-char title>] <150-char username> joined the chat" (PostgreSQL enforces it).
    subject = models.CharField(max_length=400)
    body_text = models.TextField()
    body_html = models.TextField()
    # The digest that carried this held row to the inbox.
    digest = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="folded"
    )

    class Meta(OutboxRow.Meta):
        indexes = [
            # Partial: the sweeper, the digests and the backlog read only the rows in flight,
            # and retention only the finished ones, oldest first; neither index holds the other.
            models.Index(
                fields=["status", "updated_at"],
                condition=Q(status__in=_NOTIFICATION_IN_FLIGHT),
                name="notification_in_flight_idx",
            ),
            models.Index(
                fields=["status", "done_at"],
                condition=Q(status__in=_NOTIFICATION_FINISHED),
                name="notification_finished_idx",
            ),
            # The cap counts one mailbox's emails of the last period (neither case nor a +tag
            # makes another mailbox, so neither makes another count).
            models.Index(fields=["recipient_key", "created_at"], name="notification_mailbox_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.recipient_email} ({self.status})"


class Publication(OutboxRow):
    """One event for a Centrifugo channel; `idempotency_key` makes a re-publish harmless."""

    channel = models.CharField(max_length=200)
    data = models.JSONField()

    class Meta(OutboxRow.Meta):
        indexes = [
            models.Index(
                fields=["status", "updated_at"],
                condition=Q(status__in=OutboxRow.IN_FLIGHT),
                name="publication_in_flight_idx",
            ),
            models.Index(
                fields=["status", "done_at"],
                condition=Q(status__in=OutboxRow.FINISHED),
                name="publication_finished_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        return f"publication-{self.pk}"


class Invitation(models.Model):
    """An add the invitee's setting did not allow (accounts.AddPolicy): they accept or decline.

    Until they accept they are not a member, so they get none of the chat's admin emails.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The invitee's open invitations; the inviter's of the last period (the limit).
            models.Index(fields=["user", "status", "id"], name="invitation_user_idx"),
            models.Index(fields=["invited_by", "created_at"], name="invitation_inviter_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["chat", "user"],
                condition=Q(status="pending"),
                name="one_pending_invitation_per_user_chat",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["admin", "member"]), name="invitation_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.user_id} to {self.chat_id} ({self.status})"
