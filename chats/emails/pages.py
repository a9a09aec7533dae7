"""The email pages: the one-click unsubscribe link of every admin email, and a user's settings.

The unsubscribe endpoint is the only CSRF-exempt view of the site: RFC 8058 mail clients POST to
it without cookies, and the signed token in its URL is what authorizes the change (it can only
turn emails off, for the one recipient and chat it was signed for). A GET never changes anything,
because mail scanners prefetch links; it shows a button that POSTs instead.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from chats import selectors
from chats.models import Chat
from core.errors import DomainError

from . import preferences, unsubscribe


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET: confirm; POST `List-Unsubscribe=One-Click`: emails off, answered 200, no redirect."""
    parsed = unsubscribe.parse_token(token)
    if parsed is None:
        return render(request, "chats/unsubscribe.html", {"state": "invalid"}, status=400)
    recipient_id, chat_id = parsed
    context = {"chat": Chat.objects.filter(pk=chat_id).first()}
    if request.method == "GET":
        return render(request, "chats/unsubscribe.html", {**context, "state": "confirm"})
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return render(request, "chats/unsubscribe.html", {"state": "invalid"}, status=400)
    preferences.unsubscribe_from_emails(chat_id=chat_id, user_id=recipient_id)
    return render(request, "chats/unsubscribe.html", {**context, "state": "done"})


@login_required(login_url="page-login")
@require_http_methods(["GET", "POST"])
def email_settings_page(request: HttpRequest) -> HttpResponse:
    """Each chat whose membership emails the user gets, with its switch (undoes an unsubscribe)."""
    if request.method == "POST":
        try:
            chat_id = int(request.POST.get("chat_id", ""))
            enabled = {"on": True, "off": False}[request.POST.get("email_notifications", "")]
        except (ValueError, KeyError):
            error = "Choose a chat and on or off."
            return _settings_page(request, error, status=400)
        try:
            preferences.set_email_notifications(
                chat_id=chat_id, user_id=request.user.pk, enabled=enabled
            )
        except DomainError:  # not (or no longer) an admin of that chat
            error = "You are no longer an owner or admin of that chat."
            return _settings_page(request, error, status=404)
        return redirect("email-settings")  # POST/redirect/GET: a reload does not post again
    return _settings_page(request)


def _settings_page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    memberships = selectors.admin_memberships_of(request.user.pk)
    context = {"memberships": memberships, "error": error}
    return render(request, "chats/email_settings.html", context, status=status)
