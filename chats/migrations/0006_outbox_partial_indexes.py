"""Partial indexes for the rows in flight and the finished ones; running totals for what
finished before (core.tallies), so the live snapshot stops counting every row ever written."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, F

# Counted once here, from the rows that exist; from now on the services add as rows finish.
FINISHED = {"notification": ("sent", "failed", "folded"), "publication": ("sent", "failed")}


def start_tallies(apps, schema_editor):
    tally = apps.get_model("core", "Tally")
    for name, statuses in FINISHED.items():
        model = apps.get_model("chats", name)
        # Failed and folded rows had no done_at before: their last change is when they finished.
        model.objects.filter(status__in=statuses, done_at__isnull=True).update(
            done_at=F("updated_at")
        )
        counts = (
            model.objects.filter(status__in=statuses).values_list("status").annotate(n=Count("id"))
        )
        for status, n in counts:
            tally.objects.update_or_create(name=f"chats.{name}.{status}", defaults={"value": n})
    tally.objects.update_or_create(
        name="users", defaults={"value": apps.get_model(settings.AUTH_USER_MODEL).objects.count()}
    )
    tally.objects.update_or_create(
        name="chats", defaults={"value": apps.get_model("chats", "Chat").objects.count()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("chats", "0005_chat_is_demo"),
        ("core", "0001_tally"),
    ]

    operations = [
        migrations.RunPython(start_tallies, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="notification",
            name="notification_status_idx",
        ),
        migrations.RemoveIndex(
            model_name="publication",
            name="publication_status_idx",
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("status__in", ("pending", "sending", "held"))),
                fields=["status", "updated_at"],
                name="notification_in_flight_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("status__in", ("sent", "failed", "folded"))),
                fields=["status", "done_at"],
                name="notification_finished_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="publication",
            index=models.Index(
                condition=models.Q(("status__in", ("pending", "sending"))),
                fields=["status", "updated_at"],
                name="publication_in_flight_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="publication",
            index=models.Index(
                condition=models.Q(("status__in", ("sent", "failed"))),
                fields=["status", "done_at"],
                name="publication_finished_idx",
            ),
        ),
    ]
