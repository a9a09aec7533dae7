"""The admin's pages for chats, members, messages and the outbox. Every list stays fast on a
table of millions of rows: it is ordered by an index (the primary key), no page counts the whole
table (`show_full_result_count = False`), and the row count of a page's list is exact only when it
is quick to get (EstimatedCountPaginator)."""

import json

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.paginator import Paginator
from django.db import OperationalError, connections, transaction
from django.db.models import Model, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.utils.functional import cached_property

from accounts import profiles
from accounts.models import Profile

from .emails import personal
from .models import Chat, Membership, MembershipEvent, Message, Notification, Publication


class EstimatedCountPaginator(Paginator):
    """A changelist paginator whose count gives up after `timeout_ms` on PostgreSQL and says
    what the planner estimates instead: `count(*)` reads every matching row, which on a table of
    millions takes seconds, on every page of the list. Only the total shown and the number of
    page links are approximate then; the rows on a page are exact. Elsewhere (SQLite) it counts.
    """

    timeout_ms = 100

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or connections[queryset.db].vendor != "postgresql":
            return super().count
        try:
            with transaction.atomic(using=queryset.db):
                with connections[queryset.db].cursor() as cursor:
                    cursor.execute("SELECT current_setting('statement_timeout')")
                    (before,) = cursor.fetchone()
                    cursor.execute(_SET_TIMEOUT, [str(self.timeout_ms)])
                    counted = queryset.count()
                    # Inside an outer transaction the setting would outlive this block.
                    cursor.execute(_SET_TIMEOUT, [before])
                return counted
        except OperationalError:
            # Canceled by the timeout: the block rolled back, and the setting with it.
            return _estimated_rows(queryset)


_SET_TIMEOUT = "SELECT set_config('statement_timeout', %s, true)"


def _estimated_rows(queryset: QuerySet) -> int:
    """The planner's row estimate for the query, from the table statistics (EXPLAIN, no run)."""
    plan = json.loads(queryset.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class LargeTableAdmin(admin.ModelAdmin):
    """A list page that costs the same at a million rows as at ten: it shows `N results`, not
    `N results (M total)` (a second count of the whole table), and counts with a time limit.
    Each subclass orders by an index (newest first by primary key where nothing else is asked)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False


class MembershipInline(admin.TabularInline):
    """Read-only, like the Membership pages: members are changed through the API."""

    model = Membership
    extra = 0
    fields = readonly_fields = ["user", "role", "email_notifications", "joined_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Chat)
class ChatAdmin(LargeTableAdmin):
    ordering = ["-id"]
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
class MembershipAdmin(LargeTableAdmin):
    """Read-only. Adding, removing or re-roling a member goes through `chats.services` (the API),
    which also logs the join or leave for the statistics, emails the chat's admins and ends a
    removed member's live subscription; a row edited here would do none of that, silently."""

    ordering = ["-id"]
    list_display = ["id", "chat", "user", "role", "email_notifications", "joined_at"]
    list_filter = ["role", "email_notifications"]
    raw_id_fields = ["chat", "user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ProfileInline(admin.StackedInline):
    """What the user consented to. The confirmed address is read-only: only its owner confirms
    it (the link in their inbox); a changed email is unconfirmed until then."""

    model = Profile
    can_delete = False  # no profile means the defaults; there is nothing to delete
    fields = ["address_confirmed", "confirmed_email", "confirmed_at", "who_can_add", "email_off"]
    readonly_fields = ["address_confirmed", "confirmed_email", "confirmed_at"]
    verbose_name_plural = "consent"

    @admin.display(description="address confirmed", boolean=True)
    def address_confirmed(self, obj: Profile) -> bool:
        return bool(obj and obj.user_id) and obj.is_confirmed


class AccountAdmin(UserAdmin):
    """Django's user admin, with the user's consent (ProfileInline), able to delete an account
    that belongs to chats. A changed email is not confirmed (Profile.is_confirmed compares the
    confirmed address with the current one), so no email goes to it but a new confirmation
    link, queued on save.

    The Membership pages are read-only, so the admin would refuse the memberships' cascade (it
    asks each related model's admin for delete permission). The account's memberships do not
    vanish silently: the pre_delete signal runs `services.forget_user` first (ownership passes
    on, leaves are logged, live subscriptions end).

    Its list is ordered by username (a unique index) and counted like the large tables'."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    inlines = [ProfileInline]

    def save_related(
        self,
        request: HttpRequest,
        form: ModelForm,
        formsets: list[BaseInlineFormSet],
        change: bool,
    ) -> None:
        """After the profile (its email switch may have changed in the same save): a changed
        address gets its confirmation link, in the admin's transaction (queued on commit)."""
        super().save_related(request, form, formsets, change)
        if not (change and "email" in form.changed_data):
            return
        user = form.instance
        if not user.email or profiles.profile_of(user.pk).is_confirmed:
            return  # no address, or back to the one confirmed
        if personal.request_confirmation(user_id=user.pk):
            self.message_user(request, f"A confirmation link was queued for {user.email}.")
        else:
            self.message_user(
                request,
                f"No confirmation link was sent to {user.email} (email off, the account "
                "inactive, or the mailbox's limit of links reached): it gets no email.",
                messages.WARNING,
            )

    def get_deleted_objects(self, objs: QuerySet | list[Model], request: HttpRequest) -> tuple:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Membership._meta.verbose_name)
        return deleted, counts, perms_needed, protected


User = get_user_model()
admin.site.unregister(User)
admin.site.register(User, AccountAdmin)


@admin.register(Message)
class MessageAdmin(LargeTableAdmin):
    ordering = ["-id"]
    list_display = ["id", "chat", "author", "created_at", "edited_at", "deleted_at"]
    list_filter = ["deleted_at"]
    raw_id_fields = ["chat", "author"]
    search_fields = ["text"]


@admin.register(MembershipEvent)
class MembershipEventAdmin(LargeTableAdmin):
    ordering = ["-id"]  # no Meta.ordering: newest first, by the primary key
    list_display = ["id", "chat_id", "user_id", "kind", "at"]
    list_filter = ["kind"]


@admin.register(Notification)
class NotificationAdmin(LargeTableAdmin):
    """Each email's fate: sent, failed, or cancelled (its recipient stopped taking email), with
    the attempt count and the last error; an event over its inbox's cap is held, then folded
    into the digest named here."""

    ordering = ["-id"]
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
class PublicationAdmin(LargeTableAdmin):
    ordering = ["-id"]
    list_display = ["id", "channel", "status", "attempts", "created_at", "done_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Publication._meta.fields]
