from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .models import Chat, Membership, MembershipEvent, Message, Notification, Publication


class MembershipInline(admin.TabularInline):
    """Read-only, like the Membership pages: members are changed through the API."""

    model = Membership
    extra = 0
    fields = readonly_fields = ["user", "role", "email_notifications", "joined_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "created_by", "created_at", "is_demo"]
    list_filter = ["is_demo"]
    readonly_fields = ["is_demo"]  # set by seed_demo only: a user tells demo from real by it
    search_fields = ["title"]
    inlines = [MembershipInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """A chat is born with its owner: through the API (services.create_chat), not here."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Deleting here would drop every membership without the leave events, the admins'
        emails or the end of the members' live subscriptions: the owner deletes through the API."""
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Read-only. Adding, removing or re-roling a member goes through `chats.services` (the API),
    which also logs the join or leave for the statistics, emails the chat's admins and ends a
    removed member's live subscription; a row edited here would do none of that, silently."""

    list_display = ["id", "chat", "user", "role", "email_notifications", "joined_at"]
    list_filter = ["role", "email_notifications"]
    raw_id_fields = ["chat", "user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AccountAdmin(UserAdmin):
    """Django's user admin, able to delete an account that belongs to chats.

    The Membership pages are read-only, so the admin would refuse the memberships' cascade (it
    asks each related model's admin for delete permission). The account's memberships do not
    vanish silently: the pre_delete signal runs `services.forget_user` first (ownership passes
    on, leaves are logged, live subscriptions end)."""

    def get_deleted_objects(self, objs: QuerySet | list[Model], request: HttpRequest) -> tuple:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Membership._meta.verbose_name)
        return deleted, counts, perms_needed, protected


User = get_user_model()
admin.site.unregister(User)
admin.site.register(User, AccountAdmin)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "chat", "author", "created_at", "edited_at", "deleted_at"]
    list_filter = ["deleted_at"]
    raw_id_fields = ["chat", "author"]
    search_fields = ["text"]


@admin.register(MembershipEvent)
class MembershipEventAdmin(admin.ModelAdmin):
    list_display = ["id", "chat_id", "user_id", "kind", "at"]
    list_filter = ["kind"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Each email's fate: sent or failed, with the attempt count and the last error; an event
    over its inbox's cap is held, then folded into the digest named here."""

    list_display = [
        "id",
        "event",
        "recipient_email",
        "status",
        "attempts",
        "error",
        "created_at",
        "done_at",
        "digest_id",
    ]
    list_filter = ["status", "event"]
    search_fields = ["recipient_email", "subject"]
    readonly_fields = [f.name for f in Notification._meta.fields]

    @admin.display(description="last error")
    def error(self, obj: Notification) -> str:
        """The start of the last SMTP error: enough to tell a refusal from a timeout at a glance."""
        return obj.last_error[:80] + ("…" if len(obj.last_error) > 80 else "")


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "status", "attempts", "created_at", "done_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Publication._meta.fields]
