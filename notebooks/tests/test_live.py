"""fetch_live_stats against the real /api/stats/ (live server, real Redis)."""

from __future__ import annotations

import urllib.error

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
