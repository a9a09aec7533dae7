"""Fuzz every operation of the OpenAPI schema at /api/schema/ with schemathesis: no 5xx, ever,
and every answer conforms to the schema (status code, content type, body, headers).

The schema is loaded from the running WSGI application, so it is the one clients download. Each
operation gets its own test (and database transaction) with a logged-in user who owns a chat with
a member and a message, and is invited to another chat; generated path ids are often swapped for
those real ids so the fuzzing reaches the code behind the 404s. Derandomized and bounded: the same
cases every run, in seconds.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import AddPolicy
from chatplatform.wsgi import application
from chats import services
from chats.models import Invitation, Role

served = schemathesis.openapi.from_wsgi("/api/schema/", application)


def _json_bodies_only(raw: dict) -> dict:
    """Keep the JSON request bodies: werkzeug's test client (schemathesis' WSGI transport) cannot
    even build the non-object multipart bodies the negative phase makes, and the form encodings
    are DRF's parsers feeding the same serializers."""
    raw = copy.deepcopy(raw)
    for methods in raw["paths"].values():
        for operation in methods.values():
            content = operation.get("requestBody", {}).get("content")
            if content:
                operation["requestBody"]["content"] = {
                    "application/json": content["application/json"]
                }
    return raw


schema = schemathesis.openapi.from_dict(_json_bodies_only(served.raw_schema))
schema.app = application

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Ids of the current test's chat, member, message and invitation, read while cases are generated.
REAL_IDS: dict[str, int] = {}


@schema.hook
def map_path_parameters(context: schemathesis.HookContext, path: dict | None) -> dict | None:
    """Point two out of three generated ids at real rows (deterministically, from the value)."""
    names = ("chat_id", "user_id", "message_id", "invitation_id")
    for name in () if path is None else names:
        value = path.get(name)
        if isinstance(value, int) and value % 3 != 0 and name in REAL_IDS:
            path[name] = REAL_IDS[name]
    return path


@pytest.fixture
def keep_test_transaction() -> Iterator[None]:
    """A WSGI request ends by closing "old" DB connections; inside a test that would break the
    test's transaction. Django's own test client disconnects the same handler for the same reason.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_header(make_user, keep_test_transaction, settings) -> dict[str, str]:
    """A user who owns a chat with an admin, a member and a message, and whose setting turned
    another chat's add into a pending invitation (answered by the accept and decline cases);
    returns their token header.

    No rate limits here (empty: none): a 429 is documented, but hundreds of generated writes a
    minute would turn most cases into 429s and fuzz nothing behind them."""
    settings.AUTH_RATE_LIMIT = settings.REGISTER_RATE_LIMIT = settings.WRITE_RATE_LIMIT = None
    owner, admin, member = make_user(who_can_add=AddPolicy.NOBODY), make_user(), make_user()
    chat = services.create_chat(title="Fuzzed", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=member.pk)
    message = services.post_message(chat_id=chat.pk, author_id=owner.pk, text="hello")
    elsewhere = services.create_chat(title="Elsewhere", creator_id=admin.pk)
    services.add_or_invite(chat_id=elsewhere.pk, actor_id=admin.pk, user_id=owner.pk)
    invitation = Invitation.objects.get(chat=elsewhere, user=owner)
    REAL_IDS.update(
        chat_id=chat.pk, user_id=member.pk, message_id=message.pk, invitation_id=invitation.pk
    )
    yield {"Authorization": f"Token {Token.objects.create(user=owner).key}"}
    REAL_IDS.clear()


BODYLESS = ("/confirmation/", "/accept/", "/decline/")


def test_the_schema_documents_every_endpoint():
    operations = {
        f"{method.upper()} {path}"
        for path, methods in schema.raw_schema["paths"].items()
        for method in methods
    }
    assert operations == {
        "POST /api/auth/register/",
        "POST /api/auth/token/",
        "GET /api/chats/",
        "POST /api/chats/",
        "GET /api/chats/{chat_id}/",
        "PATCH /api/chats/{chat_id}/",
        "DELETE /api/chats/{chat_id}/",
        "GET /api/chats/{chat_id}/members/",
        "POST /api/chats/{chat_id}/members/",
        "PATCH /api/chats/{chat_id}/members/{user_id}/",
        "DELETE /api/chats/{chat_id}/members/{user_id}/",
        "GET /api/chats/{chat_id}/messages/",
        "POST /api/chats/{chat_id}/messages/",
        "PATCH /api/chats/{chat_id}/messages/{message_id}/",
        "DELETE /api/chats/{chat_id}/messages/{message_id}/",
        "GET /api/realtime/token/",
        "GET /api/realtime/subscription-token/",
        "GET /api/stats/",
        "GET /api/live/clock/",
        "POST /api/live/lag/",
        "GET /api/account/",
        "PATCH /api/account/",
        "POST /api/account/confirmation/",
        "GET /api/invitations/",
        "POST /api/invitations/{invitation_id}/accept/",
        "POST /api/invitations/{invitation_id}/decline/",
        "GET /healthz",
    }
    for path, methods in served.raw_schema["paths"].items():
        for method, operation in methods.items():
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)
            # Actions whose URL says it all (ask for a link, accept, decline) take no body.
            if method in ("post", "patch") and not path.endswith(BODYLESS):
                assert "requestBody" in operation, (method, path)


@schema.parametrize()
@hypothesis_settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_every_answer_is_documented_and_never_5xx(
    case: schemathesis.Case, auth_header, redis_service
):
    """No 5xx, and each answer as the schema says: a documented status code, its content type,
    its body schema and its headers. `redis_service` points the broker at a live Redis: /healthz
    answering 503 without one would be the truth, not a bug."""
    case.call_and_validate(headers=auth_header, checks=CONFORMANCE)


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    """drf-spectacular's own validation: a view it cannot describe fails here, not in a client."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/chats/{chat_id}/messages/" in (tmp_path / "s.yml").read_text()


@pytest.mark.django_db
def test_an_api_url_no_route_matches_answers_json_404(client):
    """An id longer than the path converter takes (what the fuzzing found: Django's HTML page)."""
    for path in ("/api/chats/1000000000000000000/", "/api/no-such-thing/"):
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")
