"""Who may open the live statistics and chat pages, and what each page is configured with."""

from __future__ import annotations

import json

import pytest
from django.conf import settings


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('id="realtime-config"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_staff_opens_the_live_page_with_offline_assets(make_user, client):
    client.force_login(make_user("operator", is_staff=True))
    response = client.get("/live/")
    assert response.status_code == 200
    html = response.content.decode()
    # centrifuge-js and the chart come from our own static files, never a CDN.
    assert "/static/vendor/centrifuge/centrifuge.js" in html
    assert "/static/realtime/live.js" in html
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


def test_the_chat_page_needs_a_login_and_sets_the_csrf_cookie(make_user, client):
    assert client.get("/chat/")["Location"].startswith("/login/?next=/chat/")
    user = make_user("walker")
    client.force_login(user)
    response = client.get("/chat/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    assert page_config(response)["user"] == {"id": user.pk, "username": "walker"}


def test_centrifuge_js_is_served_from_static_files(client):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/centrifuge/centrifuge.js"), "run scripts/setup.sh (npm install)"


def test_a_member_who_is_not_staff_logs_in_and_lands_on_the_chat_page(make_user, client):
    make_user("plain")
    response = client.post(
        "/login/?next=/chat/", {"username": "plain", "password": "a-long-test-password"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/chat/"
    assert client.get("/chat/").status_code == 200
