"""Helpers of the API tests: endpoint URLs and the shape of a refusal."""

from __future__ import annotations


def url(chat_id: int, *rest: object) -> str:
    return "/api/chats/" + "/".join(str(part) for part in (chat_id, *rest)) + "/"


def assert_names(response, field: str, status: int) -> None:
    """The answer is `status` with a JSON body whose key is `field`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json(), response.json()
