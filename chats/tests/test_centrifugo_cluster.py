"""Two real Centrifugo nodes on one real Redis (the Redis engine: broker and presence) behind a
real HAProxy with `centrifugo/haproxy.cfg`, as compose's `scale` profile runs them, and real
WebSocket clients (centrifuge-python): what one node publishes reaches the other's clients,
presence counts both nodes' clients, and when a node dies its clients reconnect through HAProxy
to the other and recover what they missed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cent import PresenceRequest, PresenceStatsRequest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import testing
from integrations import centrifugo

from .support import ChannelLog, LiveClient

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    redis: testing.RedisProcess
    nodes: tuple[testing.CentrifugoProcess, testing.CentrifugoProcess]
    lb: testing.HAProxyProcess

    def server_of(self, node: testing.CentrifugoProcess) -> str:
        """HAProxy's name for `node` in centrifugo/haproxy.cfg."""
        return f"node{self.nodes.index(node) + 1}"


@pytest.fixture(scope="module")
def _cluster() -> Iterator[Cluster]:
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(testing.RedisProcess())
        nodes = tuple(
            stack.enter_context(testing.CentrifugoProcess(redis_url=redis.url)) for _ in range(2)
        )
        lb = stack.enter_context(testing.HAProxyProcess(*nodes))
        yield Cluster(redis, nodes, lb)


@pytest.fixture
def cluster(_cluster: Cluster, settings: Any) -> Cluster:
    """The module's cluster with both nodes up (a test that killed one leaves it dead) and seen
    up by HAProxy; tokens signed and API calls made here are for its nodes (one key for all)."""
    for node in _cluster.nodes:
        if not node.running:
            node.start()
    for node in _cluster.nodes:
        for backend in ("centrifugo_websocket", "centrifugo_api"):
            wait_for_state(_cluster.lb, backend, _cluster.server_of(node), "UP")
    settings.CENTRIFUGO_TOKEN_HMAC_SECRET_KEY = _cluster.nodes[0].token_secret
    settings.CENTRIFUGO_HTTP_API_KEY = _cluster.nodes[0].api_key
    return _cluster


@pytest.fixture
def connect() -> Iterator[Callable[[str, int], LiveClient]]:
    """Connect a WebSocket client as user `user_id` to `ws_url` (a node or HAProxy); every
    client is closed afterwards."""
    clients: list[LiveClient] = []

    def open_client(ws_url: str, user_id: int) -> LiveClient:
        live = LiveClient(ws_url, centrifugo.connection_token(user_id)).connect()
        clients.append(live)
        live.wait_connected()
        return live

    yield open_client
    for live in clients:
        live.close()


def subscribe(live: LiveClient, user_id: int, channel: str) -> ChannelLog:
    return live.subscribe(channel, centrifugo.subscription_token(user_id, channel))


def via(api_url: str) -> override_settings:
    """The project's Centrifugo client (integrations.centrifugo) pointed at one API address: a
    node's or HAProxy's (its cached client is dropped on the settings change)."""
    return override_settings(CENTRIFUGO_API_URL=api_url)


def lb_samples(lb: testing.HAProxyProcess) -> list[Sample]:
    """HAProxy's exporter now, parsed as Prometheus would read it."""
    with urllib.request.urlopen(lb.metrics_url, timeout=5) as response:  # noqa: S310 - local
        text = response.read().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def lb_value(lb: testing.HAProxyProcess, name: str, **labels: str) -> float:
    """The one sample of `name` with exactly these labels."""
    [value] = [s.value for s in lb_samples(lb) if s.name == name and s.labels == labels]
    return value


def server_state(lb: testing.HAProxyProcess, backend: str, server: str) -> str:
    """UP, DOWN, MAINT... as HAProxy's exporter reports the server now."""
    states = [
        s.labels["state"]
        for s in lb_samples(lb)
        if s.name == "haproxy_server_status"
        and (s.labels["proxy"], s.labels["server"]) == (backend, server)
        and s.value == 1
    ]
    assert len(states) == 1, states
    return states[0]


def wait_for_state(
    lb: testing.HAProxyProcess, backend: str, server: str, state: str, timeout: float = 20
) -> None:
    testing.wait_until(
        lambda: server_state(lb, backend, server) == state,
        timeout,
        f"HAProxy to report {backend}/{server} {state}",
    )


def active_servers(lb: testing.HAProxyProcess) -> float:
    """Nodes HAProxy sends browsers to now (CentrifugoLoadBalancerNoNode fires on 0)."""
    return lb_value(lb, "haproxy_backend_active_servers", proxy="centrifugo_websocket")


def websocket_sessions(lb: testing.HAProxyProcess, server: str) -> float:
    """WebSockets HAProxy holds open to `server` now."""
    return lb_value(
        lb, "haproxy_server_current_sessions", proxy="centrifugo_websocket", server=server
    )


def test_a_client_receives_what_the_other_node_publishes(cluster, connect) -> None:
    channel = centrifugo.chat_channel(1)
    node_a, node_b = cluster.nodes
    log_a = subscribe(connect(node_a.ws_url, 101), 101, channel)
    log_b = subscribe(connect(node_b.ws_url, 102), 102, channel)

    with via(node_b.api_url):
        centrifugo.publish(channel, {"text": "sent through node B"})
    with via(node_a.api_url):
        centrifugo.publish(channel, {"text": "sent through node A"})

    expected = [{"text": "sent through node B"}, {"text": "sent through node A"}]
    for log in (log_a, log_b):
        testing.wait_until(lambda log=log: len(log.publications) >= 2, 10, "both publications")
        assert log.publications == expected


def test_presence_counts_the_clients_of_both_nodes(cluster, connect) -> None:
    channel = centrifugo.chat_channel(2)
    node_a, node_b = cluster.nodes
    subscribe(connect(node_a.ws_url, 101), 101, channel)
    subscribe(connect(node_b.ws_url, 102), 102, channel)

    for node in cluster.nodes:
        with via(node.api_url):
            client = centrifugo.client()
            presence = client.presence(PresenceRequest(channel=channel)).presence
            stats = client.presence_stats(PresenceStatsRequest(channel=channel))
        assert sorted(info.user for info in presence.values()) == ["101", "102"]
        assert (stats.num_clients, stats.num_users) == (2, 2)


def test_a_client_of_a_killed_node_reconnects_to_the_other_and_recovers(cluster, connect) -> None:
    channel = centrifugo.chat_channel(3)
    live = connect(cluster.lb.ws_url, 103)
    log = subscribe(live, 103, channel)
    with via(cluster.lb.api_url):  # the app's path: HAProxy's API frontend
        centrifugo.publish(channel, {"n": 0})
    testing.wait_until(lambda: log.publications, 10, "the first publication")

    # Which node HAProxy sent the WebSocket to (only this test connects through it).
    on = testing.wait_until(
        lambda: [n for n in cluster.nodes if websocket_sessions(cluster.lb, cluster.server_of(n))],
        10,
        "HAProxy to hold the client's WebSocket",
    )
    assert len(on) == 1
    victim = on[0]
    survivor = next(node for node in cluster.nodes if node is not victim)

    # Hold the client's event loop while the node dies and the messages are published, so they
    # are published while it is cut off: left running, it would reconnect within a second and
    # could receive them live, which proves nothing about recovery.
    gate = threading.Event()
    live.loop.call_soon_threadsafe(gate.wait, 30)
    try:
        victim.kill()  # SIGKILL: a crash, no goodbye to its clients
        with via(survivor.api_url):
            for n in (1, 2, 3):
                centrifugo.publish(channel, {"n": n})
    finally:
        gate.set()

    testing.wait_until(lambda: len(log.subscribed) == 2, 30, "the client to resubscribe")
    resubscribed = log.subscribed[-1]
    assert resubscribed.was_recovering and resubscribed.recovered
    # A marker published after recovery: anything recovered twice would arrive before it.
    with via(survivor.api_url):
        centrifugo.publish(channel, {"n": 4})
    testing.wait_until(lambda: {"n": 4} in log.publications, 10, "the publication after recovery")
    assert log.publications == [{"n": n} for n in range(5)]

    # It came back through HAProxy, which now sends it to the survivor and reports the dead node
    # down: its check of the internal port's /health fails.
    assert websocket_sessions(cluster.lb, cluster.server_of(survivor)) == 1
    for backend in ("centrifugo_websocket", "centrifugo_api"):
        wait_for_state(cluster.lb, backend, cluster.server_of(victim), "DOWN", timeout=10)


def test_haproxy_checks_each_node_on_its_internal_port(cluster, connect) -> None:
    # The public port has no /health: HAProxy seeing both nodes UP means it checks the internal
    # port, the only one that answers.
    for node in cluster.nodes:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{node.public_url}/health", timeout=5)  # noqa: S310 - local
        assert server_state(cluster.lb, "centrifugo_websocket", cluster.server_of(node)) == "UP"

    # A node that stops answering (frozen, its sockets still open) is taken out, and a new client
    # is sent to the other node.
    frozen, other = cluster.nodes
    os.kill(frozen.proc.pid, signal.SIGSTOP)
    try:
        wait_for_state(cluster.lb, "centrifugo_websocket", "node1", "DOWN", timeout=10)
        channel = centrifugo.chat_channel(4)
        log = subscribe(connect(cluster.lb.ws_url, 104), 104, channel)
        with via(cluster.lb.api_url):
            centrifugo.publish(channel, {"text": "served by node 2"})
        testing.wait_until(lambda: log.publications, 10, "the publication")
        assert log.publications == [{"text": "served by node 2"}]
        assert websocket_sessions(cluster.lb, "node2") == 1
    finally:
        os.kill(frozen.proc.pid, signal.SIGCONT)
    wait_for_state(cluster.lb, "centrifugo_websocket", "node1", "UP")
    assert other.running


def test_haproxy_serves_through_node_1_when_node_2_does_not_resolve(cluster, connect) -> None:
    # As compose without the `scale` profile: the hostname centrifugo-2 does not exist.
    node_1, node_2 = cluster.nodes
    with testing.HAProxyProcess(node_1, node_2, node_2_host="centrifugo-2.invalid") as lb:
        assert server_state(lb, "centrifugo_websocket", "node2") == "MAINT"
        wait_for_state(lb, "centrifugo_websocket", "node1", "UP")
        wait_for_state(lb, "centrifugo_api", "node1", "UP")

        channel = centrifugo.chat_channel(5)
        log = subscribe(connect(lb.ws_url, 105), 105, channel)
        with via(lb.api_url):
            centrifugo.publish(channel, {"text": "through the one node"})
        testing.wait_until(lambda: log.publications, 10, "the publication")
        assert log.publications == [{"text": "through the one node"}]
        assert websocket_sessions(lb, "node1") == 1
        assert active_servers(lb) == 1

        # The one node stops answering: HAProxy still answers, with no node to send anyone to.
        os.kill(node_1.proc.pid, signal.SIGSTOP)
        try:
            testing.wait_until(lambda: active_servers(lb) == 0, 10, "no active server")
            assert server_state(lb, "centrifugo_websocket", "node1") == "DOWN"
        finally:
            os.kill(node_1.proc.pid, signal.SIGCONT)
