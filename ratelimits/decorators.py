"""The same DRF throttles on plain Django views (the login page, the admin's login)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from .throttles import SettingRateThrottle

View = Callable[..., HttpResponse]


def throttle_posts(*throttle_classes: type[SettingRateThrottle]) -> Callable[[View], View]:
    """Refuse a POST with 429 and Retry-After when any of the throttles says so, as DRF's views
    do; other methods pass uncounted (showing the form is no attempt). Every throttle counts
    each attempt, as DRF's check_throttles does, so a refused client still uses up the
    account's attempts."""

    def decorate(view: View) -> View:
        @wraps(view)
        def throttled_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                throttles = [cls() for cls in throttle_classes]
                waits = [t.wait() for t in throttles if not t.allow_request(request, None)]
                if waits:
                    return too_many_attempts(max(waits))
            return view(request, *args, **kwargs)

        return throttled_view

    return decorate


def too_many_attempts(wait: float) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    response = HttpResponse(
        f"Too many attempts. Try again in {seconds} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response
