"""The API's accounts: registering and getting a token, through DRF's APIClient
with real token authentication.

Bad input must be a 4xx whose JSON body names the field that was wrong, never a 500, and must
leave no row behind.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from .support import assert_names

User = get_user_model()


# --- register and token -------------------------------------------------------------------------


def test_register_creates_a_user_without_echoing_the_password(db):
    response = APIClient().post(
        "/api/auth/register/",
        {"username": "zoe", "email": "zoe@example.com", "password": "sunny-Meadow-42"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "username": "zoe", "email": "zoe@example.com"}
    assert User.objects.get(pk=body["id"]).check_password("sunny-Meadow-42")


def test_register_refuses_a_taken_username_naming_it(make_user):
    make_user("zoe")
    response = APIClient().post(
        "/api/auth/register/",
        {"username": "Zoe", "email": "z@example.com", "password": "sunny-Meadow-42"},
        format="json",
    )
    assert_names(response, "username", 409)
    assert User.objects.filter(username__iexact="zoe").count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "zoe", "email": "z@example.com", "password": "password"}, "password"),
        ({"username": "zoe", "email": "z@example.com", "password": "12345678901"}, "password"),
        ({"username": "zoe", "email": "z@example.com", "password": "zoe@example"}, "password"),
        ({"username": "zoe", "email": "z@example.com", "password": "short"}, "password"),
        ({"username": "zoe", "email": "not-an-email", "password": "sunny-Meadow-42"}, "email"),
        ({"username": "zo e", "email": "z@example.com", "password": "sunny-Meadow-42"}, "username"),
        (
            {"username": "z" * 151, "email": "z@example.com", "password": "sunny-Meadow-42"},
            "username",
        ),
        ({"email": "z@example.com", "password": "sunny-Meadow-42"}, "username"),
        ({"username": "zoe", "email": "z@example.com", "password": "sunny\x00Meadow"}, "password"),
    ],
)
def test_register_refuses_bad_input_naming_the_field(db, payload, field):
    response = APIClient().post("/api/auth/register/", payload, format="json")
    assert_names(response, field, 400)
    assert not User.objects.exists()


def test_register_refuses_an_email_longer_than_the_column(db):
    email = "a" * 60 + "@" + ".".join(["b" * 60] * 3) + ".com"  # valid, but 249 + 8 > 254
    email = "c" * 8 + email
    response = APIClient().post(
        "/api/auth/register/",
        {"username": "zoe", "email": email, "password": "sunny-Meadow-42"},
        format="json",
    )
    assert_names(response, "email", 400)


def test_token_for_good_credentials_authenticates_later_requests(make_user):
    make_user("zoe")
    response = APIClient().post(
        "/api/auth/token/", {"username": "zoe", "password": "a-long-test-password"}, format="json"
    )
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/chats/").status_code == 200


def test_token_refuses_a_wrong_password_naming_it(make_user):
    make_user("zoe")
    response = APIClient().post(
        "/api/auth/token/", {"username": "zoe", "password": "wrong"}, format="json"
    )
    assert_names(response, "password", 400)
    assert_names(APIClient().post("/api/auth/token/", {}, format="json"), "username", 400)


@pytest.mark.parametrize("header", [None, "Token not-a-real-token", "Bearer abc"])
def test_requests_without_a_valid_token_are_401(db, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    assert_names(client.get("/api/chats/"), "detail", 401)
