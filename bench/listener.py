"""WebSocket subscribers for the live benchmarks, in a process of their own: they stamp each
publication's arrival there, so the senders' load does not delay the clock that measures them."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import time
from multiprocessing.connection import Connection


def subscriber_specs(users: list, channels: list[tuple[str, str]]) -> list[dict]:
    """What the Listener needs per user: a connection token and, per (label, channel), a
    subscription token (signed here: the benchmark is not testing the access rule)."""
    from integrations import centrifugo

    return [
        {
            "token": centrifugo.connection_token(user.pk, ttl=3600),
            "subscriptions": [
                (label, channel, centrifugo.subscription_token(user.pk, channel, 3600))
                for label, channel in channels
            ],
        }
        for user in users
    ]


def _listener_main(ws_url: str, clients: list[dict], conn: Connection) -> None:
    asyncio.run(_listen(ws_url, clients, conn))


async def _listen(ws_url: str, clients: list[dict], conn: Connection) -> None:
    """Connect every client, say "ready", then answer the parent's commands: "count", "collect"
    (hand over the arrivals so far and forget them), "stop"."""
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
    conn.send("ready")
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "count":
            conn.send(len(arrivals))
            continue
        batch = arrivals.copy()  # no await between these lines: no arrival slips in between
        arrivals.clear()
        conn.send(batch)
        if command == "stop":
            break
    for item in live:
        if hasattr(item, "disconnect"):
            await item.disconnect()


class Listener:
    """Real WebSocket subscribers in a spawned process, so receiving does not compete with
    sending for this process's GIL; both read the same system-wide monotonic clock. Arrivals
    are (label, key, time): key is the payload's "seq" (a direct publish) or message id."""

    def __init__(self, ws_url: str, clients: list[dict]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_listener_main, args=(ws_url, clients, child), daemon=True
        )

    def start(self, timeout: float = 120) -> Listener:
        self.process.start()
        if not self.conn.poll(timeout) or self.conn.recv() != "ready":
            self.process.terminate()
            raise RuntimeError("the subscribers did not connect")
        return self

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self) -> int:
        self.conn.send("count")
        return self.conn.recv()

    def collect(self) -> list[tuple[str, int, float]]:
        """The arrivals since the last collect."""
        self.conn.send("collect")
        return self.conn.recv()

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

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self.conn.send("stop")
                if self.conn.poll(10):
                    self.conn.recv()
            self.process.terminate()
