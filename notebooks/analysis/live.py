"""The platform's live statistics for the activity notebook: an HTTP client of /api/stats/.

Apart from the report readers because it is the one part of the analysis that talks to a
running platform; the notebook works without it (its `stats_url` parameter left empty).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def fetch_live_stats(url: str, token: str = "", timeout: float = 5.0) -> dict[str, Any]:
    """GET the platform's /api/stats/ snapshot; it needs a staff user's API token. A refused
    token raises urllib.error.HTTPError (401 unknown token, 403 not staff)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (checked above)
        return json.loads(response.read())
