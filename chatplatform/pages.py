"""The two browser pages that show Centrifugo at work: live statistics (staff) and a chat demo.

Both are static shells: the numbers and messages come from the JSON API and then over the
WebSocket, with tokens fetched from /api/realtime/ by centrifuge-js's getToken callbacks.
"""

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from chatplatform import centrifugo


def _realtime_config(request: HttpRequest) -> dict:
    return {
        "wsUrl": settings.CENTRIFUGO_WS_URL,
        "tokenUrl": reverse("realtime-token"),
        "subscriptionTokenUrl": reverse("realtime-subscription-token"),
        "user": {"id": request.user.pk, "username": request.user.get_username()},
    }


@staff_member_required
def live_stats_page(request: HttpRequest) -> HttpResponse:
    """Counters and a messages-per-minute chart that beat's snapshots and chat activity update."""
    config = {
        **_realtime_config(request),
        "statsUrl": "/api/stats/",
        "statsChannel": centrifugo.STATS_CHANNEL,
    }
    return render(request, "live.html", {"config": config})


class PageLoginView(LoginView):
    """A login for every user: the admin's login page admits staff only."""

    template_name = "login.html"
    redirect_authenticated_user = True


@login_required(login_url="page-login")
@ensure_csrf_cookie  # the page posts messages with the session, so it needs the CSRF cookie
def chat_page(request: HttpRequest) -> HttpResponse:
    """Pick one of your chats, read it live, send a message."""
    config = {**_realtime_config(request), "chatsUrl": reverse("chat-list")}
    return render(request, "chat.html", {"config": config})
