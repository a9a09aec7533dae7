"""WebSocket clients for the live benchmarks, in a process of their own: subscribers stamp each
publication's arrival there, so the senders' load does not delay the clock that measures them.

One way to sign the clients' tokens (client_spec) and one way to run clients in a separate
process (Spawned in the parent, serve in the child); Listener is the subscribers built on them."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import multiprocessing as mp
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Self


def client_spec(user_id: int, channels: list[tuple[str, str]]) -> dict:
    """What one client needs: a connection token for `user_id` and, per (label, channel), a
    subscription token, signed by the app's own helpers (the benchmarks do not test the access
    rule)."""
    from integrations import centrifugo

    return {
        "token": centrifugo.connection_token(user_id, ttl=3600),
        "subscriptions": [
            (label, channel, centrifugo.subscription_token(user_id, channel, 3600))
            for label, channel in channels
        ],
    }


def subscriber_specs(users: list, channels: list[tuple[str, str]]) -> list[dict]:
    """client_spec for each user (anything with a pk), all on the same channels."""
    return [client_spec(user.pk, channels) for user in users]


class Spawned:
    """A child process started with "spawn" (its own interpreter, GIL and limits, so its clients
    do not compete with this process's work), driven over a pipe. The child runs
    `target(*args, conn)`, which calls `serve`: "ready", then one reply per command until
    "stop"."""

    stop_timeout: float = 10  # how long the child may tidy up after "stop"

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(*args, child), daemon=True)

    def start(self, timeout: float = 120) -> Self:
        self.process.start()
        if not self.conn.poll(timeout) or self.conn.recv() != "ready":
            self.process.terminate()
            raise RuntimeError(f"{type(self).__name__}: the child was not ready in {timeout:g} s")
        return self

    def ask(self, command: str, argument: Any = None, timeout: float | None = None) -> Any:
        """Send (command, argument) and return the child's reply."""
        self.conn.send((command, argument))
        if timeout is not None and not self.conn.poll(timeout):
            raise RuntimeError(f"{type(self).__name__}: no reply to {command} in {timeout:g} s")
        return self.conn.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self.conn.send(("stop", None))
                if self.conn.poll(self.stop_timeout):
                    self.conn.recv()
            self.process.terminate()
        self.process.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def serve(conn: Connection, handle: Callable[[str, Any], Any]) -> None:
    """The child's side of Spawned: say "ready", then answer each (command, argument) with what
    `handle` returns (awaited if it is awaitable), until "stop" has been answered."""
    conn.send("ready")
    loop = asyncio.get_running_loop()
    while True:
        command, argument = await loop.run_in_executor(None, conn.recv)
        reply = handle(command, argument)
        if inspect.isawaitable(reply):
            reply = await reply
        conn.send(reply)
        if command == "stop":
            return


def _listener_main(ws_url: str, clients: list[dict], conn: Connection) -> None:
    asyncio.run(_listen(ws_url, clients, conn))


async def _listen(ws_url: str, clients: list[dict], conn: Connection) -> None:
    """Connect every client, then serve: "count"; "collect" (hand over the arrivals so far and
    forget them); "stop" (the same, then disconnect)."""
    from centrifuge import Client, PublicationContext, SubscriptionEventHandler

    arrivals: list[tuple[str, int, float]] = []  # (label, key, monotonic time)

    class Events(SubscriptionEventHandler):
        def __init__(self, label: str) -> None:
            self.label = label

        async def on_publication(self, ctx: PublicationContext) -> None:
            now = time.monotonic()
            data = ctx.pub.data
            key = data["seq"] if "seq" in data else data["message"]["id"]
            arrivals.append((self.label, key, now))

    live = []
    for spec in clients:
        client = Client(ws_url, token=spec["token"], proxy=None, timeout=20)
        await client.connect()
        for label, channel, token in spec["subscriptions"]:
            sub = client.new_subscription(channel, events=Events(label), token=token)
            await sub.subscribe()
            live.append(sub)
        live.append(client)
    for item in live:
        await item.ready(timeout=30)

    def handle(command: str, _: object) -> int | list[tuple[str, int, float]]:
        if command == "count":
            return len(arrivals)
        batch = arrivals.copy()  # no await between these lines: no arrival slips in between
        arrivals.clear()
        return batch

    await serve(conn, handle)
    for item in live:
        if hasattr(item, "disconnect"):
            await item.disconnect()


class Listener(Spawned):
    """Real WebSocket subscribers (centrifuge-python) in a spawned process, so receiving does
    not compete with sending for this process's GIL; both read the same system-wide monotonic
    clock. Arrivals are (label, key, time): key is the payload's "seq" (a direct publish) or
    message id."""

    def __init__(self, ws_url: str, clients: list[dict]) -> None:
        super().__init__(_listener_main, ws_url, clients)

    def count(self) -> int:
        return self.ask("count")

    def collect(self) -> list[tuple[str, int, float]]:
        """The arrivals since the last collect."""
        return self.ask("collect")

    def wait_for(self, expected: int, timeout: float = 10, quiet: float = 1.5) -> bool:
        """Until `expected` arrivals, `timeout` seconds, or nothing new for `quiet` seconds
        (what is lost stays lost); True if all came."""
        deadline = time.monotonic() + timeout
        seen, last_change = -1, time.monotonic()
        while True:
            now = time.monotonic()
            count = self.count()
            if count >= expected:
                return True
            if count != seen:
                seen, last_change = count, now
            if now > deadline or now - last_change > quiet:
                return False
            time.sleep(0.1)
