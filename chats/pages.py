"""The browser pages of the chat: a login for every user and a live chat demo.

The pages are static shells: messages come from the JSON API and then over the WebSocket, with
tokens fetched from /api/realtime/ by centrifuge-js's getToken callbacks (the shared page shell
and WebSocket client are the `web` app's).
"""

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from chats import services
from chats.emails import personal
from chats.models import Invitation
from ratelimits.decorators import throttle_posts
from ratelimits.throttles import AUTH_THROTTLES
from web.pages import realtime_config


@method_decorator(throttle_posts(*AUTH_THROTTLES), name="dispatch")  # 429 on password guessing
class PageLoginView(LoginView):
    """A login for every user: the admin's login page admits staff only."""

    template_name = "chats/login.html"
    redirect_authenticated_user = True


@login_required(login_url="page-login")
@ensure_csrf_cookie  # the page posts messages with the session, so it needs the CSRF cookie
def chat_page(request: HttpRequest) -> HttpResponse:
    """Pick one of your chats, read it live, send a message."""
    config = {
        **realtime_config(request),
        "chatsUrl": reverse("chat-list"),
        "invitationsUrl": reverse("invitation-list"),
    }
    return render(request, "chats/chat.html", {"config": config})


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation email's link: GET shows it with Accept and Decline (a mail scanner's
    prefetch answers nothing), POST `answer=accept|decline` answers it. The signed token is the
    invitee's: no login needed, as with the unsubscribe link."""
    parsed = personal.parse_invitation_token(token)
    invitation = None
    if parsed is not None:
        invitation = (
            Invitation.objects.filter(pk=parsed[0], user_id=parsed[1])
            .select_related("chat", "invited_by")
            .first()
        )
    if invitation is None:
        return render(request, "chats/invitation.html", {"state": "invalid"}, status=400)
    context = {"invitation": invitation, "state": invitation.status}
    if request.method == "POST" and invitation.status == Invitation.Status.PENDING:
        answer = request.POST.get("answer")
        if answer not in ("accept", "decline"):
            return render(request, "chats/invitation.html", context, status=400)
        services.answer_invitation(
            invitation_id=invitation.pk, user_id=invitation.user_id, accept=answer == "accept"
        )
        invitation.refresh_from_db()
        context["state"] = invitation.status
    return render(request, "chats/invitation.html", context)
