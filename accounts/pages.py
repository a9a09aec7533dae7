"""The confirmation link's page: a GET only shows a button (mail scanners open links), the POST
confirms. No login needed: the signed token is the proof of reading the inbox."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import confirmation


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_email_page(request: HttpRequest, token: str) -> HttpResponse:
    if confirmation.parse_token(token) is None:
        return render(request, "accounts/confirm_email.html", {"state": "invalid"}, status=400)
    if request.method == "GET":
        return render(request, "accounts/confirm_email.html", {"state": "confirm"})
    user = confirmation.confirm(token)
    if user is None:  # the address changed since, or the account was deactivated
        return render(request, "accounts/confirm_email.html", {"state": "invalid"}, status=400)
    return render(request, "accounts/confirm_email.html", {"state": "done", "user": user})
