"""What browsers see: the live delivery lag measured by the chat pages themselves.

Every server-side latency the platform exports stops at Centrifugo's publish call; how long a
message then takes to reach a reader's screen (Centrifugo's fan-out, the network, a proxy that
buffers WebSocket frames) only the browser can tell. The chat page (chats/static/chats/chat.js)
measures, for a sample of the live messages it receives (LIVE_LAG_SAMPLE_RATE), the time from
the server's publish (`tags.sent_at`, epoch ms, integrations.centrifugo) to the message's
arrival, corrected by the offset of the browser's clock against this server's (measured at
GET /api/live/clock/ on each (re)connect), and reports the values in batches of at most
LIVE_LAG_BATCH to POST /api/live/lag/; each value lands in lag_histogram() (no labels: no user,
chat or browser can add a series).

A report is the user's, by session (the page: CSRF token in the X-CSRFToken header, or in the
`csrfmiddlewaretoken` field of the form a page's sendBeacon posts on leaving) or by API token,
and is throttled per user (LIVE_LAG_RATE_LIMIT). A report with any bad value is refused whole
with a 400 naming `lags_ms`, and nothing of it is observed: a page with a broken clock must not
skew the histogram with half its batch.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from prometheus_client import Histogram
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ratelimits.throttles import LiveLagThrottle

from .prometheus import PREFIX, REGISTRY

# From a same-host Centrifugo (a few ms) to a page that got its messages a minute late; 2 s is a
# boundary so that LiveBrowserLagHigh's p95 > 2 s is read at a bucket edge, not interpolated.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


@functools.cache
def lag_histogram() -> Histogram:
    """The histogram, made at the first report: a metric without labels writes its
    multiprocess file when made, and a process that only imports this module (`manage.py
    check` under compose's PROMETHEUS_MULTIPROC_DIR, before the folder exists) must not."""
    return Histogram(
        f"{PREFIX}_live_browser_lag_seconds",
        "Time from the server's Centrifugo publish to a chat page receiving the message, measured "
        "by the browsers (clock offset corrected), for a sample of live messages.",
        buckets=LAG_BUCKETS,
        registry=REGISTRY,
    )


# A value is milliseconds. Below 0 down to CLOCK_SLACK_MS is the error of the clock offset (half
# a round trip at most): counted as 0. Further below, or above MAX_LAG_MS, the page's clock or
# arithmetic is wrong and the report is refused.
CLOCK_SLACK_MS = 1000.0
MAX_LAG_MS = 600_000.0
FIELD = "lags_ms"

ERROR_BODY = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {FIELD: ["Item 2: -5000 is outside -1000..600000 ms."]},
}


def _refuse(message: str) -> ValidationError:
    return ValidationError({FIELD: [message]})


def _number(value: object, index: int) -> float:
    """One value as a float: a JSON number, or the text of a form field (the beacon's)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _refuse(f"Item {index}: not a number.")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise _refuse(f"Item {index}: not a number.") from None
    if not math.isfinite(number):
        raise _refuse(f"Item {index}: not a finite number.")
    if not -CLOCK_SLACK_MS <= number <= MAX_LAG_MS:
        raise _refuse(
            f"Item {index}: {value} is outside {-CLOCK_SLACK_MS:.0f}..{MAX_LAG_MS:.0f} ms."
        )
    return max(0.0, number)


def parse_lags(data: Any, batch: int) -> list[float]:
    """The reported lags in milliseconds (small negatives as 0), from `{"lags_ms": [...]}` or a
    form with repeated `lags_ms` fields; ValidationError naming `lags_ms` on anything else."""
    if hasattr(data, "getlist"):  # a form: the page's sendBeacon on leaving
        raw: object = data.getlist(FIELD) or None
    elif isinstance(data, dict):
        raw = data.get(FIELD)
    else:
        raise _refuse('Send an object: {"lags_ms": [numbers]}.')
    if raw is None:
        raise _refuse("This field is required.")
    if not isinstance(raw, list):
        raise _refuse("Expected a list of numbers.")
    if not raw:
        raise _refuse("Expected at least one value.")
    if len(raw) > batch:
        raise _refuse(f"At most {batch} values per report, got {len(raw)}.")
    return [_number(value, index) for index, value in enumerate(raw)]


class ClockView(APIView):
    """The server's clock, for the page's offset: the page keeps the round trip with the
    smallest RTT (offset = now_ms - (t0 + t1) / 2). It also carries the sampling policy, so a
    page learns it where it needs it and the settings reach an open page on its next connect."""

    @extend_schema(
        operation_id="live_clock",
        responses={
            200: inline_serializer(
                "LiveClock",
                {
                    "now_ms": serializers.IntegerField(help_text="Server time, epoch ms."),
                    "sample_rate": serializers.FloatField(
                        help_text="Share of live messages to measure (0: none)."
                    ),
                    "batch": serializers.IntegerField(help_text="Most values per report."),
                },
            ),
            401: OpenApiResponse(ERROR_BODY, description="Not logged in."),
        },
    )
    def get(self, request: Request) -> Response:
        body = {
            "now_ms": int(time.time() * 1000),
            "sample_rate": settings.LIVE_LAG_SAMPLE_RATE,
            "batch": settings.LIVE_LAG_BATCH,
        }
        return Response(body, headers={"Cache-Control": "no-store"})


class LagReportView(APIView):
    """A batch of browser-measured lags: observed all, or (a bad value) none."""

    parser_classes = [JSONParser, FormParser]
    throttle_classes = [LiveLagThrottle]

    @extend_schema(
        operation_id="live_lag_report",
        request=inline_serializer(
            "LiveLagReport",
            {
                FIELD: serializers.ListField(
                    child=serializers.FloatField(min_value=-CLOCK_SLACK_MS, max_value=MAX_LAG_MS),
                    min_length=1,
                    help_text="Publish-to-arrival times in ms, at most LIVE_LAG_BATCH of them.",
                )
            },
        ),
        responses={
            204: None,
            400: OpenApiResponse(ERROR_BODY, description="Invalid input; the body names it."),
            401: OpenApiResponse(ERROR_BODY, description="Not logged in."),
            403: OpenApiResponse(ERROR_BODY, description="CSRF token missing (session)."),
            429: OpenApiResponse(ERROR_BODY, description="Too many reports; see Retry-After."),
        },
    )
    def post(self, request: Request) -> Response:
        for lag_ms in parse_lags(request.data, settings.LIVE_LAG_BATCH):
            lag_histogram().observe(lag_ms / 1000)
        return Response(status=204)
