"""Rotating DJANGO_SECRET_KEY keeps the unsubscribe links of emails already sent working while
the old key is listed in DJANGO_SECRET_KEY_FALLBACKS (docs/security.md, "Rotating the secret
key"); a link no listed key signed, or one edited, is still refused. The fallbacks come from the
environment and are held, each of them, to the same rule as the key when DEBUG is off.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

import testing
from chats import services
from chats.emails import unsubscribe
from testing.processes import BASE_DIR

OLD, NEW, OTHER = (secrets.token_urlsafe(48) for _ in range(3))
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def link_signed_with(settings, key: str, recipient_id: int, chat_id: int) -> str:
    """The path of the unsubscribe link an email sent while `key` was the secret key carried."""
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = key, []
    return urlsplit(unsubscribe.unsubscribe_url(recipient_id, chat_id)).path


@pytest.fixture
def chat(make_user):
    owner = make_user("olga")
    return owner, services.create_chat(title="Design", creator_id=owner.pk)


@pytest.mark.django_db
def test_a_link_signed_with_the_old_key_still_works_after_rotation(settings, chat) -> None:
    owner, design = chat
    old_link = link_signed_with(settings, OLD, owner.pk, design.pk)

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    page = Client(enforce_csrf_checks=True).get(old_link)
    assert page.status_code == 200
    assert "not valid" not in page.text
    assert "Unsubscribe?" in page.text and "Design" in page.text  # the page that asks
    clicked = Client(enforce_csrf_checks=True).post(old_link, ONE_CLICK)
    assert clicked.status_code == 200 and "Unsubscribed" in clicked.text
    # New links are signed with the new key only: they work once the old one is dropped.
    new_link = urlsplit(unsubscribe.unsubscribe_url(owner.pk, design.pk)).path
    assert new_link != old_link
    settings.SECRET_KEY_FALLBACKS = []
    assert Client().get(new_link).status_code == 200


@pytest.mark.django_db
def test_without_the_fallback_or_with_an_unknown_key_the_link_is_refused(settings, chat) -> None:
    owner, design = chat
    old_link = link_signed_with(settings, OLD, owner.pk, design.pk)
    stranger_link = link_signed_with(settings, OTHER, owner.pk, design.pk)

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, []
    refused = Client().get(old_link)  # rotated without listing the old key
    assert refused.status_code == 400 and "not valid" in refused.text

    settings.SECRET_KEY_FALLBACKS = [OLD]
    token = old_link.rstrip("/").rsplit("/", 1)[1]
    _, signature = token.rsplit(":", 1)
    edited = signing.b64_encode(json.dumps([owner.pk + 1, design.pk]).encode()).decode()
    for bad in (stranger_link, f"/email/unsubscribe/{edited}:{signature}/"):
        response = Client(enforce_csrf_checks=True).get(bad)
        assert response.status_code == 400, bad
        assert "not valid" in response.text
        assert Client(enforce_csrf_checks=True).post(bad, ONE_CLICK).status_code == 400


# --- from the environment ---------------------------------------------------------------------

VERIFY = "from chats.emails import unsubscribe; print(unsubscribe.parse_token({token!r}))"


def verify_in_a_process(token: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Whether a process started as a deployment, with `environment`, accepts the token."""
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", VERIFY.format(token=token)],
        cwd=BASE_DIR,
        env=testing.production_env(**environment),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_fallbacks_come_from_the_environment(settings) -> None:
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    token = unsubscribe.make_token(7, 42)
    rotated = {"DJANGO_SECRET_KEY": NEW}
    accepted = verify_in_a_process(token, **rotated, DJANGO_SECRET_KEY_FALLBACKS=f"{OTHER}, {OLD},")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.strip() == "(7, 42)"
    refused = verify_in_a_process(token, **rotated, DJANGO_SECRET_KEY_FALLBACKS="")
    assert refused.returncode == 0, refused.stderr
    assert refused.stdout.strip() == "None"


@pytest.mark.parametrize(
    "fallbacks", ["change-me", f"{OLD},insecure-old-key-xxxxxxxxxxxxxxxxxxxxxxxxxx", "short"]
)
def test_without_debug_each_fallback_must_be_a_real_secret(fallbacks: str) -> None:
    result = testing.manage_check(DJANGO_SECRET_KEY_FALLBACKS=fallbacks)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY_FALLBACKS must be" in result.stderr
    assert OLD not in result.stderr  # never echoed


def test_without_debug_real_fallbacks_start() -> None:
    started = testing.manage_check(DJANGO_SECRET_KEY_FALLBACKS=f"{OLD},{OTHER}")
    assert started.returncode == 0, started.stderr


def test_with_debug_on_the_fallbacks_are_not_checked() -> None:
    """make up: like the key itself, any value is accepted."""
    result = testing.manage_check(DJANGO_DEBUG="true", DJANGO_SECRET_KEY_FALLBACKS="change-me")
    assert result.returncode == 0, result.stderr
