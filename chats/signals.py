"""Keeps the chat invariants when an account is deleted outside the API (the admin, a shell),
and the running totals of accounts and chats (core.tallies) in the transaction that changes them:
the live snapshot reads them instead of counting the tables. Bulk inserts send no signals: who
bulk-creates (the demo) adds to the totals itself."""

from typing import Any

from core import tallies

from . import services


def forget_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    services.forget_user(user_id=instance.pk)


def count_created(sender: type, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        tallies.add({total_name(sender): 1})


def count_deleted(sender: type, **kwargs: Any) -> None:
    tallies.add({total_name(sender): -1})


# The running total of each counted model's rows.
TOTALS = {"auth.user": "users", "chats.chat": "chats"}


def total_name(model: type) -> str:
    return TOTALS[model._meta.label_lower]
