"""Running totals that survive the deletion of the rows they count (core.tallies)."""

from django.db import models


class Tally(models.Model):
    """One running total, e.g. `chats.notification.sent`: added to in the transaction that
    changes what it counts, never recounted, so pruning the counted rows leaves it as it was."""

    name = models.CharField(max_length=100, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "core_tally"  # named in core.tallies' upsert

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"
