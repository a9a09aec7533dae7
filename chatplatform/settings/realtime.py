"""Centrifugo, the live events' server: where the app reaches it, its keys, tokens and
timeouts (docs/realtime.md)."""

from .base import env, env_or
from .security import secret

# --- Centrifugo -------------------------------------------------------------------------------
# Empty: the local Centrifugo of `make up`: WebSocket on CENTRIFUGO_PORT, the server API (with
# /metrics and /health) on CENTRIFUGO_INTERNAL_PORT, which browsers never reach.
_CENTRIFUGO_LOCAL = f"127.0.0.1:{env.int('CENTRIFUGO_PORT', default=8001)}"
_CENTRIFUGO_INTERNAL = f"127.0.0.1:{env.int('CENTRIFUGO_INTERNAL_PORT', default=8002)}"
CENTRIFUGO_API_URL = env_or("CENTRIFUGO_API_URL", f"http://{_CENTRIFUGO_INTERNAL}/api")
CENTRIFUGO_WS_URL = env_or("CENTRIFUGO_WS_URL", f"ws://{_CENTRIFUGO_LOCAL}/connection/websocket")
CENTRIFUGO_HTTP_API_KEY = secret("CENTRIFUGO_HTTP_API_KEY", "insecure-dev-api-key")
# At least 32 bytes even in development: PyJWT warns about shorter HS256 keys.
CENTRIFUGO_TOKEN_HMAC_SECRET_KEY = secret(
    "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY", "insecure-development-token-secret-of-32-bytes"
)
CENTRIFUGO_TIMEOUT = env.float("CENTRIFUGO_TIMEOUT", default=3.0)
# Live events are published by the web process right after commit (the short path, see
# docs/realtime.md), waiting at most this long; what fails goes to the `live` queue instead.
CENTRIFUGO_PUBLISH_AFTER_COMMIT = env.bool("CENTRIFUGO_PUBLISH_AFTER_COMMIT", default=True)
CENTRIFUGO_REQUEST_TIMEOUT = env.float("CENTRIFUGO_REQUEST_TIMEOUT", default=0.5)
CENTRIFUGO_TOKEN_TTL_SECONDS = env.int("CENTRIFUGO_TOKEN_TTL_SECONDS", default=300)
# Subscription tokens (chat:<id>, stats:live) live shorter: Centrifugo cannot revoke a token, so
# this bounds how long a removed member's cached one still subscribes (docs/realtime.md). Cheap:
# one token request per open channel per minute.
CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS = env.int(
    "CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS", default=60
)
# Worker attempts before a live event Centrifugo keeps refusing is `failed` (with backoff, about
# 3 minutes); the sweeper would otherwise re-queue it for ever.
PUBLICATION_MAX_ATTEMPTS = env.int("PUBLICATION_MAX_ATTEMPTS", default=8)
