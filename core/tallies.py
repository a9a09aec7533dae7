"""Running totals kept in the database (`core.models.Tally`): what a scan cannot afford to count.

A total that only grows (emails sent, live events given up on, rows pruned) is added to in the
same transaction as the change it counts, so it is exact, survives a restart of every process
and does not fall when old rows are deleted. Reading any number of them is one primary-key
lookup, whatever the history.
"""

from collections.abc import Iterable, Mapping

from django.db import connection, transaction

from .models import Tally


def add(amounts: Mapping[str, int]) -> None:
    """Add to the named totals (created at 0 when new); zero amounts are skipped.

    One upsert per name, in the caller's transaction when there is one. Concurrent adders wait
    on the row's lock only until their transaction ends, and their additions never get lost.
    """
    amounts = {name: n for name, n in amounts.items() if n}
    if not amounts:
        return
    sql = (
        "INSERT INTO core_tally (name, value) VALUES (%s, %s) "
        "ON CONFLICT (name) DO UPDATE SET value = core_tally.value + EXCLUDED.value"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Sorted: two transactions adding to the same totals lock them in one order.
        cursor.executemany(sql, sorted(amounts.items()))


def values(names: Iterable[str]) -> dict[str, int]:
    """The totals by name; 0 for one never added to."""
    names = list(names)
    found = dict(Tally.objects.filter(name__in=names).values_list("name", "value"))
    return {name: found.get(name, 0) for name in names}


def get(name: str) -> int | None:
    """One total, or None when it was never started (tell "0" from "not counted yet")."""
    return Tally.objects.filter(name=name).values_list("value", flat=True).first()


def start(name: str, value: int) -> None:
    """Set a total to `value`: one never started, or dropped to be recounted. Only its sole
    writer may call this, counting what it covers in the same transaction (the fill and its
    final rows), or additions made meanwhile are lost."""
    Tally.objects.update_or_create(name=name, defaults={"value": value})


def drop(names: Iterable[str]) -> None:
    """Forget totals whose counted rows are being recounted (a statistics rebuild)."""
    Tally.objects.filter(name__in=list(names)).delete()
