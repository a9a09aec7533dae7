"""A request body over REQUEST_MAX_BYTES gets 413 naming the limit (Django alone answers 400,
and the API's JSON parser read any size), and the largest legitimate body still fits."""

from __future__ import annotations

import json
import socket

import pytest
from django.conf import settings
from rest_framework.test import APIClient

import testing

LIMIT = 256 * 1024  # the documented default (chatplatform/settings/security.py, docs/security.md)


def test_the_default_limit_is_the_documented_one():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == LIMIT


def test_an_oversized_api_post_gets_413_in_json_naming_the_limit(db):
    body = json.dumps({"username": "x" * LIMIT, "password": "a-long-password"})
    response = APIClient().post("/api/auth/register/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"Request body too large: at most {LIMIT} bytes are accepted."
    }


def test_an_oversized_multipart_api_post_gets_413(db):
    response = APIClient().post(
        "/api/auth/register/", {"username": "x" * LIMIT}, format="multipart"
    )
    assert response.status_code == 413
    assert str(LIMIT) in response.json()["detail"]


def test_an_oversized_form_post_gets_413(db):
    """A page's form (the login page): plain text, not Django's 400."""
    response = APIClient().post("/login/", {"username": "x" * LIMIT, "password": "p"})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert f"at most {LIMIT} bytes" in response.content.decode()


def test_the_longest_message_fits_even_fully_escaped(team, client_for):
    """MESSAGE_MAX_LENGTH characters outside the BMP, each sent as a \\uXXXX\\uXXXX pair: the
    largest body a client legitimately sends."""
    text = "\U0001f600" * settings.MESSAGE_MAX_LENGTH
    body = json.dumps({"text": text}, ensure_ascii=True)
    assert len(body) > 12 * settings.MESSAGE_MAX_LENGTH
    response = client_for(team.member).post(
        f"/api/chats/{team.chat.pk}/messages/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["text"] == text


def answer_to_a_partly_sent_body(port: int, declared: int, sent: int) -> tuple[int, bytes]:
    """POST headers declaring `declared` bytes, then only `sent` of them; the server's answer.

    A server that waited for the whole body would never answer: the socket times out. HTTP/1.0:
    a plain body, never chunked.
    """
    head = (
        "POST /api/auth/register/ HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"username": "' + b"x" * sent)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.slow
def test_gunicorn_answers_413_to_a_10_mb_register_post_without_reading_it(db):
    """The web container's server: 413 from Content-Length alone, unauthenticated, at once."""
    with testing.WebProcess(testing.production_env()) as web:
        status, body = answer_to_a_partly_sent_body(web.port, declared=10 * 1024 * 1024, sent=1024)
    assert status == 413
    assert json.loads(body) == {
        "detail": f"Request body too large: at most {LIMIT} bytes are accepted."
    }
