"""Keeps the chat invariants when an account is deleted outside the API (the admin, a shell),
and the running totals of accounts and chats (core.tallies) in the transaction that changes them:
the live snapshot reads them instead of counting the tables. Bulk inserts send no signals: who
bulk-creates (the demo) adds to the totals itself."""

from typing import Any

from django.contrib.auth import get_user_model

from core import tallies

from . import services


def forget_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    services.forget_user(user_id=instance.pk)


def tally_created(sender: type, created: bool, **kwargs: Any) -> None:
    """post_save: one more account or chat (fixtures loaded with loaddata included)."""
    if created:
        tallies.add({total_name(sender): 1})


def tally_deleted(sender: type, **kwargs: Any) -> None:
    """post_delete: one fewer account or chat (a cascade sends one signal per row)."""
    tallies.add({total_name(sender): -1})


def total_name(model: type) -> str:
    """The running total of a counted model's rows: "users" (AUTH_USER_MODEL) or "chats"."""
    return "users" if model is get_user_model() else "chats"
