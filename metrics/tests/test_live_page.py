"""Who may open the live statistics page, and what it is configured with."""

from __future__ import annotations

import pytest
from django.conf import settings

from testing.browser import page_config


def test_staff_opens_the_live_page_with_offline_assets(make_user, client):
    client.force_login(make_user("operator", is_staff=True))
    response = client.get("/live/")
    assert response.status_code == 200
    html = response.content.decode()
    # centrifuge-js and the chart come from our own static files, never a CDN.
    assert "/static/vendor/centrifuge/centrifuge.js" in html
    assert "/static/metrics/live.js" in html
    assert "https://" not in html
    config = page_config(response)
    assert config["wsUrl"] == settings.CENTRIFUGO_WS_URL
    assert config["statsChannel"] == "stats:live"
    assert config["tokenUrl"] == "/api/realtime/token/"


@pytest.mark.parametrize("staff", [False, None])
def test_others_are_sent_to_the_admin_login(make_user, client, staff):
    if staff is False:
        client.force_login(make_user("member"))
    response = client.get("/live/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/live/")
