"""Fixtures shared by chats' real-Centrifugo tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .live import LiveClient


@pytest.fixture
def listen(centrifugo_service) -> Iterator[Callable[[str], LiveClient]]:
    """Connect a WebSocket client to the test Centrifugo; every client is closed afterwards."""
    clients: list[LiveClient] = []

    def connect(connection_token: str) -> LiveClient:
        live = LiveClient(centrifugo_service.ws_url, connection_token).connect()
        clients.append(live)
        return live

    yield connect
    for live in clients:
        live.close()
