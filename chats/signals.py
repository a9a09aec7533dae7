"""Keeps the chat invariants when an account is deleted outside the API (the admin, a shell)."""

from typing import Any

from . import services


def forget_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    services.forget_user(user_id=instance.pk)
