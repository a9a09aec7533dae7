from django.contrib import admin

from .models import Chat, Membership, MembershipEvent, Message, Notification, Publication


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "created_by", "created_at"]
    search_fields = ["title"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["id", "chat", "user", "role", "email_notifications", "joined_at"]
    list_filter = ["role", "email_notifications"]
    raw_id_fields = ["chat", "user"]


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
    """Each email's fate: sent or failed, with the attempt count and the last error."""

    list_display = ["id", "event", "recipient_email", "status", "attempts", "created_at", "done_at"]
    list_filter = ["status", "event"]
    search_fields = ["recipient_email", "subject"]
    readonly_fields = [f.name for f in Notification._meta.fields]


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "status", "attempts", "created_at", "done_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Publication._meta.fields]
