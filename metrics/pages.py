"""The live statistics page (staff): counters and a messages-per-minute chart that beat's
snapshots and chat activity update over the WebSocket."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from integrations import centrifugo
from web.pages import realtime_config


@staff_member_required
def live_stats_page(request: HttpRequest) -> HttpResponse:
    config = {
        **realtime_config(request),
        "statsUrl": reverse("stats"),
        "statsChannel": centrifugo.STATS_CHANNEL,
    }
    return render(request, "metrics/live.html", {"config": config})
