"""Fixtures for the people of a test: users, API clients logged in with a real token, and a
small chat with one user in each role."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import profiles
from accounts.models import AddPolicy
from chats import services
from chats.models import Chat, Role

PASSWORD = "a-long-test-password"  # every make_user user's; the browser tests log in with it
User = get_user_model()
_user_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: object) -> None:
    """PBKDF2 costs ~0.3 s a user on this machine; no test here is about hashing (a user's
    password is still checked, with a cheap hasher)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def consenting(
    user: User, *, confirmed: bool = True, who_can_add: str = AddPolicy.EVERYONE
) -> User:
    """Give `user` the consent most tests assume: address confirmed, anyone may add them. The
    consent tests pass `confirmed=False` or a stricter `who_can_add`."""
    profiles.update(
        user.pk,
        confirmed_email=user.email if confirmed else "",
        who_can_add=who_can_add,
    )
    return user


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    """Create a user with a unique name (and `<name>@example.com`) unless one is given, who
    consents (see `consenting`, whose keywords it takes) unless told otherwise."""

    def make(
        username: str | None = None,
        email: str | None = None,
        *,
        confirmed: bool = True,
        who_can_add: str = AddPolicy.EVERYONE,
        **extra: object,
    ) -> User:
        username = username or f"user{next(_user_numbers)}"
        email = f"{username}@example.com" if email is None else email
        user = User.objects.create_user(username, email, PASSWORD, **extra)
        return consenting(user, confirmed=confirmed, who_can_add=who_can_add)

    return make


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An API client that sends `Authorization: Token <token>` for the given user."""

    def make(user: User) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@dataclass
class ChatWithRoles:
    """A chat with one user in each role, plus an outsider who belongs to no chat."""

    chat: Chat
    owner: User
    admin: User
    member: User
    outsider: User


@pytest.fixture
def team(make_user: Callable[..., User]) -> ChatWithRoles:
    owner, admin, member, outsider = (
        make_user("owner"),
        make_user("admin"),
        make_user("member"),
        make_user("outsider"),
    )
    chat = services.create_chat(title="Team", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=member.pk)
    return ChatWithRoles(chat, owner, admin, member, outsider)
