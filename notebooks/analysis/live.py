"""The platform's live statistics for the activity notebook: an HTTP client of /api/stats/.

Apart from the report readers because it is the one part of the analysis that talks to a
running platform; the notebook works without it (its `stats_url` parameter left empty).

Two ways in: a staff user's API token (the notebook's `stats_token`), or, where the environment
provides them, PLATFORM_STATS_URL and PLATFORM_STATS_TOKEN: compose's jupyter service sets them
to web's /api/stats/ and the platform's STATS_READ_TOKEN, a token that reads that one endpoint
and nothing else, so the container holds no account and no other secret (docs/compose.md).
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

URL_VARIABLE = "PLATFORM_STATS_URL"
TOKEN_VARIABLE = "PLATFORM_STATS_TOKEN"  # noqa: S105 (the variable's name, not its value)


def configured_url() -> str:
    """$PLATFORM_STATS_URL, the /api/stats/ URL this kernel's environment names (empty: none)."""
    return os.environ.get(URL_VARIABLE, "").strip()


def fetch_live_stats(url: str = "", token: str = "", timeout: float = 5.0) -> dict[str, Any]:
    """GET the platform's /api/stats/ snapshot (`url` empty: $PLATFORM_STATS_URL).

    `token` is a staff user's API token, sent as `Token`; without one, $PLATFORM_STATS_TOKEN
    (the platform's read-only STATS_READ_TOKEN) is sent as `Bearer`. A refused token raises
    urllib.error.HTTPError: 401 unknown or wrong, 403 not staff.
    """
    url = url or configured_url()
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    read_token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if token:
        request.add_header("Authorization", f"Token {token}")
    elif read_token:
        request.add_header("Authorization", f"Bearer {read_token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (checked above)
        return json.loads(response.read())
