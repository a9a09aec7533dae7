"""fetch_live_stats against the real /api/stats/ (live server, real Redis): with a staff user's
token, and as a kernel in compose's jupyter service runs it, from its environment alone."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from metrics import snapshot
from notebooks.analysis import live


def test_fetch_live_stats_reads_the_real_api_with_a_staff_token(live_server, redis_service) -> None:
    """The real /api/stats/ (live server, real Redis): a staff user's token reads the snapshot
    the web processes serve; a refused token is an HTTP 401 (unknown) or 403 (not staff), not an
    empty or partial answer."""
    snapshot.redis_client().flushdb()
    users = get_user_model().objects
    analyst = users.create_user("analyst", password="a-long-test-password", is_staff=True)
    plain = users.create_user("plain", password="a-long-test-password")
    snapshot.refresh_snapshot()
    url = f"{live_server.url}/api/stats/"
    stats = live.fetch_live_stats(url, token=Token.objects.create(user=analyst).key)
    assert stats == snapshot.load_snapshot()
    assert stats["users"] == 2
    with pytest.raises(urllib.error.HTTPError) as refused:
        live.fetch_live_stats(url, token="not-a-token")
    assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as not_staff:
        live.fetch_live_stats(url, token=Token.objects.create(user=plain).key)
    assert not_staff.value.code == 403
    with pytest.raises(ValueError, match="http"):
        live.fetch_live_stats("file:///etc/passwd")


READ = (
    "import json; from notebooks.analysis import live; print(json.dumps(live.fetch_live_stats()))"
)


def in_a_kernel(**environment: str) -> subprocess.CompletedProcess[str]:
    """`live.fetch_live_stats()` in a process that has only PATH and `environment`, as compose's
    jupyter service gives its kernels (no Django settings, no secret of the platform)."""
    return subprocess.run(
        [sys.executable, "-c", READ],
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": os.environ["PATH"], **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_kernel_reads_the_stats_with_the_read_only_token_of_its_environment(
    settings, live_server, redis_service
) -> None:
    """PLATFORM_STATS_URL and PLATFORM_STATS_TOKEN (compose: web's URL and STATS_READ_TOKEN)
    are all the notebook needs; a wrong token is a 401, shown as such, not an empty snapshot."""
    settings.STATS_READ_TOKEN = secrets.token_urlsafe(48)
    snapshot.redis_client().flushdb()
    get_user_model().objects.create_user("someone", password="a-long-test-password")
    snapshot.refresh_snapshot()
    url = f"{live_server.url}/api/stats/"

    read = in_a_kernel(PLATFORM_STATS_URL=url, PLATFORM_STATS_TOKEN=settings.STATS_READ_TOKEN)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == snapshot.load_snapshot()
    assert json.loads(read.stdout)["users"] == 1

    wrong = in_a_kernel(PLATFORM_STATS_URL=url, PLATFORM_STATS_TOKEN="not-the-token")
    assert wrong.returncode != 0 and "HTTP Error 401" in wrong.stderr
    unset = in_a_kernel()
    assert unset.returncode != 0 and "not an http(s) URL" in unset.stderr
