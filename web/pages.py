"""What every live page (the chat, the live statistics) hands to web/static/web/realtime.js."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse


def realtime_config(request: HttpRequest) -> dict[str, Any]:
    """Where the page connects and fetches its tokens (routes of chats' API), and who it is."""
    return {
        "wsUrl": settings.CENTRIFUGO_WS_URL,
        "tokenUrl": reverse("realtime-token"),
        "subscriptionTokenUrl": reverse("realtime-subscription-token"),
        "user": {"id": request.user.pk, "username": request.user.get_username()},
    }
