"""The browser pages of the chat: a login for every user and a live chat demo.

The pages are static shells: messages come from the JSON API and then over the WebSocket, with
tokens fetched from /api/realtime/ by centrifuge-js's getToken callbacks. `realtime_config` is
what every live page (this app's and metrics' live statistics) hands to its script.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie

from ratelimits.decorators import throttle_posts
from ratelimits.throttles import AUTH_THROTTLES


def realtime_config(request: HttpRequest) -> dict[str, Any]:
    """Where the page connects and fetches its tokens, and who it is."""
    return {
        "wsUrl": settings.CENTRIFUGO_WS_URL,
        "tokenUrl": reverse("realtime-token"),
        "subscriptionTokenUrl": reverse("realtime-subscription-token"),
        "user": {"id": request.user.pk, "username": request.user.get_username()},
    }


@method_decorator(throttle_posts(*AUTH_THROTTLES), name="dispatch")  # 429 on password guessing
class PageLoginView(LoginView):
    """A login for every user: the admin's login page admits staff only."""

    template_name = "chats/login.html"
    redirect_authenticated_user = True


@login_required(login_url="page-login")
@ensure_csrf_cookie  # the page posts messages with the session, so it needs the CSRF cookie
def chat_page(request: HttpRequest) -> HttpResponse:
    """Pick one of your chats, read it live, send a message."""
    config = {**realtime_config(request), "chatsUrl": reverse("chat-list")}
    return render(request, "chats/chat.html", {"config": config})
