"""Who may open the chat page and log in, and what the page is configured with."""

from __future__ import annotations

from testing.browser import page_config
from testing.people import PASSWORD


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
    response = client.post("/login/?next=/chat/", {"username": "plain", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/chat/"
    assert client.get("/chat/").status_code == 200
