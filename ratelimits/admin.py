"""The refused attempts, for the admin: who was refused, by which limit, how often, when; and
an action that lets a legitimate user try again at once."""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest
from redis.exceptions import RedisError

from .models import RefusedAttempt
from .throttles import cache_key, pending_key


@admin.register(RefusedAttempt)
class RefusedAttemptAdmin(admin.ModelAdmin):
    list_display = ("hour", "scope", "ident", "count", "last_refused_at")
    # The hour as a fixed choice of ranges (today, past 7 days, this month...), each a range of
    # the `refusals_by_hour` index; a date hierarchy would read every row's date on every page to
    # list the years and months. Newest hour first, through the same index.
    list_filter = ("scope", "hour")
    search_fields = ("ident",)
    ordering = ("-hour", "-count")
    # `N results`, not `N results (M total)`: no second count of the whole table. A flood from
    # many addresses adds a row per address and hour; RETENTION_REFUSALS_DAYS bounds the table.
    show_full_result_count = False
    actions = ["clear_limit"]

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """Each listed row's count with the refusals still waiting in the cache added (the
        throttles write a row at most once a minute); one cache round trip for the page. The
        rows are only shown here (no change permission), never saved."""
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # the queryset the page renders, now cached
        keys = {row.pk: pending_key(row.scope, row.ident, row.hour) for row in rows}
        try:
            pending = cache.get_many(list(keys.values()))
        except RedisError:
            pending = {}  # the stored counts alone, while the cache is down
        for row in rows:
            row.count += pending.get(keys[row.pk], 0)
        return changelist

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the throttles only

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Clear the limit: let them try again now", permissions=["delete"])
    def clear_limit(self, request: HttpRequest, queryset: QuerySet[RefusedAttempt]) -> None:
        """Delete the throttles' counts in the cache; the rows stay as the record."""
        keys = {cache_key(row.scope, row.ident) for row in queryset}
        cache.delete_many(list(keys))
        self.message_user(request, f"Cleared {len(keys)} limit(s).", messages.SUCCESS)
