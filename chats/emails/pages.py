"""The email pages: the one-click unsubscribe link of every email, and a user's settings.

The unsubscribe endpoint is the only CSRF-exempt view of the site: RFC 8058 mail clients POST to
it without cookies, and the signed token in its URL is what authorizes the change. It can only
turn emails off, and only the one recipient's it was signed for: that chat's (a chat's link) or
all of them (either link). A GET never changes anything, because mail scanners prefetch links;
it shows the choices, as buttons that POST.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts import profiles
from accounts.models import AddPolicy
from chats import selectors
from chats.models import Chat
from core.errors import DomainError

from . import digest, personal, preferences, unsubscribe

User = get_user_model()

CHAT, ALL = "chat", "all"  # the unsubscribe page's scopes
SWITCH = {"on": True, "off": False}

# What each "who may add you" choice means, as the settings page says it.
ADD_POLICY_HELP = {
    AddPolicy.EVERYONE: "Anyone may add you to a chat directly.",
    AddPolicy.CONTACTS: "People you already share a chat with add you directly; anyone else "
    "sends an invitation that you accept or decline.",
    AddPolicy.NOBODY: "Every add is an invitation that you accept or decline.",
}


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the choices; POST `List-Unsubscribe=One-Click` (the mail client's button): the
    link's own scope; POST `scope=chat|all` (the page's buttons): that one. Answered 200 in
    place, never a redirect; again is 200 too."""
    parsed = unsubscribe.parse_token(token)
    if parsed is None:
        return render(request, "chats/unsubscribe.html", {"state": "invalid"}, status=400)
    recipient_id, chat_id = parsed
    context = {
        "chat_id": chat_id,
        "chat": Chat.objects.filter(pk=chat_id).first() if chat_id else None,
        "link_scope": CHAT if chat_id else ALL,
        "state": "confirm",
    }
    if request.method == "GET":
        return render(request, "chats/unsubscribe.html", context)
    scope = request.POST.get("scope")
    if scope is None and request.POST.get("List-Unsubscribe") == "One-Click":
        scope = context["link_scope"]
    if scope not in (CHAT, ALL) or (scope == CHAT and not chat_id):
        context["error"] = "Choose what to stop with one of the buttons below. Nothing changed."
        return render(request, "chats/unsubscribe.html", context, status=400)
    if scope == CHAT:
        preferences.unsubscribe_from_emails(chat_id=chat_id, user_id=recipient_id)
    else:
        preferences.unsubscribe_from_all(user_id=recipient_id)
    return render(request, "chats/unsubscribe.html", {**context, "state": "done", "scope": scope})


@login_required(login_url="page-login")
@require_http_methods(["GET", "POST"])
def email_settings_page(request: HttpRequest) -> HttpResponse:
    """All email on or off, each admin chat's switch, who may add you, and your address's
    confirmation. Each form POSTs its `action`; success redirects (POST/redirect/GET: a reload
    does not post again), a bad POST is answered 400 with the page and changes nothing."""
    if request.method == "GET":
        return _settings_page(request)
    # A form without `action` is the per-chat switch: the only form this page used to have.
    handler = _ACTIONS.get(request.POST.get("action", CHAT))
    if handler is None:
        return _settings_page(request, "Unknown setting: nothing changed.", status=400)
    return handler(request)


def _chat_switch(request: HttpRequest) -> HttpResponse:
    try:
        chat_id = int(request.POST.get("chat_id", ""))
        enabled = SWITCH[request.POST.get("email_notifications", "")]
    except (ValueError, KeyError):
        return _settings_page(request, "Choose a chat and on or off.", status=400)
    try:
        preferences.set_email_notifications(
            chat_id=chat_id, user_id=request.user.pk, enabled=enabled
        )
    except DomainError:  # not (or no longer) an admin of that chat
        error = "You are no longer an owner or admin of that chat."
        return _settings_page(request, error, status=404)
    return redirect("email-settings")


def _all_email(request: HttpRequest) -> HttpResponse:
    enabled = SWITCH.get(request.POST.get("email", ""))
    if enabled is None:
        return _settings_page(request, "Choose on or off for all email.", status=400)
    preferences.set_all_email(user_id=request.user.pk, enabled=enabled)
    messages.success(request, f"All email from Chat Platform is {'on' if enabled else 'off'}.")
    return redirect("email-settings")


def _who_can_add(request: HttpRequest) -> HttpResponse:
    policy = request.POST.get("who_can_add", "")
    if policy not in AddPolicy.values:
        return _settings_page(request, "Choose who may add you to chats.", status=400)
    profiles.update(request.user.pk, who_can_add=policy)
    messages.success(request, f"Who may add you to chats: {AddPolicy(policy).label}.")
    return redirect("email-settings")


def _confirmation(request: HttpRequest) -> HttpResponse:
    """A new confirmation link, unless there is nothing to confirm or the mailbox had its
    limit of links (record_confirmation returns None then)."""
    user, profile = request.user, profiles.profile_of(request.user.pk)
    if not user.email:
        error = "Your account has no email address: ask an administrator to set one."
        return _settings_page(request, error, status=400)
    if profile.is_confirmed:
        messages.info(request, f"{user.email} is already confirmed.")
        return redirect("email-settings")
    if profile.email_off:
        error = "All email is off: turn it on first, then ask for a confirmation link."
        return _settings_page(request, error, status=400)
    if not personal.request_confirmation(user_id=user.pk):
        error = (
            f"No link sent: {user.email} already had {_confirmation_limit()}. "
            "Use the last link you received, or try again later."
        )
        return _settings_page(request, error, status=429)
    messages.success(request, f"A new confirmation link is on its way to {user.email}.")
    return redirect("email-settings")


_ACTIONS = {
    CHAT: _chat_switch,
    "all_email": _all_email,
    "who_can_add": _who_can_add,
    "confirmation": _confirmation,
}


def _confirmation_limit() -> str:
    """EMAIL_CONFIRMATION_LIMIT as a person reads it: "3 confirmation links per hour"."""
    limit = digest.parse_limit(settings.EMAIL_CONFIRMATION_LIMIT)
    if limit is None:
        return "as many confirmation links as allowed"
    count, seconds = limit
    period = digest.PERIODS.get(seconds, f"{seconds} seconds")
    return f"{count} confirmation link{'s' if count != 1 else ''} per {period}"


def _settings_page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    profile = profiles.profile_of(request.user.pk)
    context = {
        "error": error,
        "email_on": not profile.email_off,
        "memberships": selectors.admin_memberships_of(request.user.pk),
        "who_can_add": profile.who_can_add,
        "add_policies": [
            {"value": value, "label": label, "help": ADD_POLICY_HELP[value]}
            for value, label in AddPolicy.choices
        ],
        "address": request.user.email,
        "confirmed": profile.is_confirmed,
        "confirmed_at": profile.confirmed_at if profile.is_confirmed else None,
    }
    return render(request, "chats/email_settings.html", context, status=status)
