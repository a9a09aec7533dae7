"""The live path's own Centrifugo client (integrations.centrifugo: JSON over a kept connection,
not cent's models) against a real Centrifugo: what it publishes arrives once and in order,
and every way a call fails is a CentError, within its timeout, which the after-commit publish
and the live queue's task catch and retry."""

from __future__ import annotations

import os
import signal
import time

import pytest
from cent import (
    CentApiResponseError,
    CentNetworkError,
    CentUnauthorizedError,
    HistoryRequest,
)
from cent.exceptions import CentTimeoutError

import testing
from integrations import centrifugo

pytestmark = pytest.mark.slow


def history(channel: str) -> list[dict]:
    stored = centrifugo.client().history(HistoryRequest(channel=channel, limit=100))
    return [publication.data for publication in stored.publications]


def test_a_batch_arrives_in_order_and_once_per_idempotency_key(centrifugo_service) -> None:
    channel = centrifugo.chat_channel(900_001)
    batch = [(channel, {"n": 1}, "publication-1"), (channel, {"n": 2}, "publication-2")]
    centrifugo.publish_batch(batch, timeout=2)
    centrifugo.publish_batch(batch, timeout=2)  # a retry after a lost answer: dropped
    centrifugo.publish(channel, {"n": 3}, idempotency_key="publication-3")
    centrifugo.publish(channel, {"n": 3}, idempotency_key="publication-3")
    assert history(channel) == [{"n": 1}, {"n": 2}, {"n": 3}]
    centrifugo.unsubscribe([(channel, 123_456)])  # nobody subscribed: no error


def test_a_refused_command_is_an_error_naming_centrifugos_reason(centrifugo_service) -> None:
    channel = centrifugo.chat_channel(900_002)
    with pytest.raises(CentApiResponseError) as caught:
        centrifugo.publish_batch([(channel, {"n": 1}, "a"), ("nowhere:1", {"n": 2}, "b")])
    assert (caught.value.code, caught.value.message) == (102, "unknown channel")
    with pytest.raises(CentApiResponseError):
        centrifugo.publish("nowhere:1", {"n": 3})


def test_a_wrong_api_key_is_unauthorized(centrifugo_service) -> None:
    api = centrifugo.api_client(centrifugo_service.api_url, "not-the-key", timeout=2)
    with pytest.raises(CentUnauthorizedError):
        api.call("publish", {"channel": centrifugo.chat_channel(1), "data": {}})


def test_no_server_is_a_network_error_at_once() -> None:
    api = centrifugo.api_client(f"http://127.0.0.1:{testing.free_port()}/api", "key", timeout=2)
    started = time.monotonic()
    with pytest.raises(CentNetworkError):
        api.call("publish", {"channel": centrifugo.chat_channel(1), "data": {}})
    assert time.monotonic() - started < 1


def test_a_server_that_does_not_answer_times_out_within_the_call_timeout() -> None:
    with testing.CentrifugoProcess() as hung:
        api = centrifugo.api_client(hung.api_url, hung.api_key, timeout=10)
        api.call("publish", {"channel": centrifugo.chat_channel(1), "data": {}})  # kept open
        os.kill(hung.proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(CentTimeoutError):
                api.call("publish", {"channel": centrifugo.chat_channel(1), "data": {}}, 0.3)
            assert time.monotonic() - started < 2
        finally:
            os.kill(hung.proc.pid, signal.SIGCONT)


def test_the_kept_connection_outlives_a_centrifugo_restart() -> None:
    """The kept connection dies with the server; the next call opens a new one."""
    server = testing.CentrifugoProcess().start()
    try:
        api = centrifugo.api_client(server.api_url, server.api_key, timeout=2)
        channel = centrifugo.chat_channel(1)
        api.call("publish", {"channel": channel, "data": {"n": 1}})
        server.stop()
        with pytest.raises(CentNetworkError):
            api.call("publish", {"channel": channel, "data": {"n": 2}})
        server.start()  # the same ports
        api.call("publish", {"channel": channel, "data": {"n": 3}})
    finally:
        server.stop()
