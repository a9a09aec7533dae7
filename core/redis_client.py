"""The one way this project talks to Redis outside Celery's own transport.

Short timeouts everywhere: requests (/metrics, /api/stats/, /healthz) and the workers' heartbeats
read and write through it, and none of them may hang on a hung Redis.
"""

from functools import lru_cache

import redis

TIMEOUT_SECONDS = 1


@lru_cache(maxsize=8)
def client(url: str) -> redis.Redis:
    """A client (with its connection pool) per URL, shared by the process's threads."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
