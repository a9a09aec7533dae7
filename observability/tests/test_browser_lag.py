"""The chat pages' lag reports as a client meets them: the clock, a batch observed into the
histogram /metrics serves, every bad report refused whole with a 400 naming `lags_ms` (nothing
of it observed), strangers refused, a flood throttled per user."""

from __future__ import annotations

import time

import pytest
from prometheus_client import generate_latest
from rest_framework.test import APIClient

from observability.prometheus import REGISTRY

NAME = "chatplatform_live_browser_lag_seconds"
CLOCK, LAG = "/api/live/clock/", "/api/live/lag/"

pytestmark = pytest.mark.django_db


def observed() -> tuple[float, float]:
    """(count, sum) of the histogram as this process exports it."""
    count = REGISTRY.get_sample_value(f"{NAME}_count") or 0.0
    return count, REGISTRY.get_sample_value(f"{NAME}_sum") or 0.0


def bucket(le: str) -> float:
    return REGISTRY.get_sample_value(f"{NAME}_bucket", {"le": le}) or 0.0


def test_clock_answers_the_servers_time_and_the_sampling_policy(make_user, client_for, settings):
    settings.LIVE_LAG_SAMPLE_RATE, settings.LIVE_LAG_BATCH = 0.25, 20
    before = time.time() * 1000
    response = client_for(make_user()).get(CLOCK)
    after = time.time() * 1000
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert before - 1 <= body["now_ms"] <= after + 1
    assert body["sample_rate"] == 0.25 and body["batch"] == 20


def test_a_batch_is_observed_in_seconds_small_negatives_as_zero(make_user, client_for):
    count, total = observed()
    low = bucket("0.025")
    response = client_for(make_user()).post(
        LAG, {"lags_ms": [12, 250.5, -300, 1500]}, format="json"
    )
    assert response.status_code == 204
    new_count, new_total = observed()
    assert new_count == count + 4
    assert new_total == pytest.approx(total + 0.012 + 0.2505 + 0 + 1.5)
    assert bucket("0.025") == low + 2  # 12 ms and the clamped -300 ms
    assert f'{NAME}_bucket{{le="60.0"}}' in generate_latest(REGISTRY).decode()


def test_the_page_reports_with_its_session_and_csrf_token(make_user):
    """As chat.js does: JSON with X-CSRFToken while open, a form (sendBeacon) on leaving."""
    user = make_user()
    page = APIClient(enforce_csrf_checks=True)
    page.force_login(user)
    count, _ = observed()
    refused = page.post(LAG, {"lags_ms": [40]}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert observed()[0] == count

    token = "a" * 32  # the chat page's csrftoken cookie, which chat.js sends back
    page.cookies["csrftoken"] = token
    sent = page.post(LAG, {"lags_ms": [40, 60]}, format="json", HTTP_X_CSRFTOKEN=token)
    assert sent.status_code == 204
    beacon = page.post(
        LAG,
        "lags_ms=70&lags_ms=80&csrfmiddlewaretoken=" + token,
        content_type="application/x-www-form-urlencoded",
    )
    assert beacon.status_code == 204
    assert observed()[0] == count + 4


TOO_MANY = object()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "required"),
        ({"lags_ms": None}, "required"),
        ({"lags_ms": "12"}, "list"),
        ({"lags_ms": {"0": 12}}, "list"),
        ({"lags_ms": []}, "at least one"),
        (TOO_MANY, "At most 50"),
        ({"lags_ms": [12, "fast"]}, "Item 1: not a number"),
        ({"lags_ms": [12, True]}, "Item 1: not a number"),
        ({"lags_ms": [None]}, "Item 0: not a number"),
        ({"lags_ms": [[12]]}, "Item 0: not a number"),
        ({"lags_ms": [12, -1001]}, "Item 1: -1001 is outside -1000..600000 ms"),
        ({"lags_ms": [600001]}, "Item 0: 600001 is outside"),
        ([12, 40], "object"),
    ],
)
def test_a_bad_report_is_refused_whole_naming_the_field(make_user, client_for, body, says):
    if body is TOO_MANY:
        body = {"lags_ms": [10] * 51}
    count, total = observed()
    response = client_for(make_user()).post(LAG, body, format="json")
    assert response.status_code == 400
    [message] = response.json()["lags_ms"]
    assert says in message
    assert observed() == (count, total)


@pytest.mark.parametrize(
    ("raw", "content_type", "says"),
    [
        ('{"lags_ms": [10, 1e999]}', "application/json", "Item 1: not a finite number"),
        ('{"lags_ms": [NaN]}', "application/json", "JSON"),  # not JSON: strict parser
        ("lags_ms=10&lags_ms=nan", "application/x-www-form-urlencoded", "Item 1: not a finite"),
        ("lags_ms=10&lags_ms=", "application/x-www-form-urlencoded", "Item 1: not a number"),
        ("other=10", "application/x-www-form-urlencoded", "required"),
    ],
)
def test_non_finite_or_unparsable_values_refused(make_user, client_for, raw, content_type, says):
    count, total = observed()
    response = client_for(make_user()).post(LAG, raw, content_type=content_type)
    assert response.status_code == 400
    body = response.json()
    assert says in " ".join(body.get("lags_ms", [])) + body.get("detail", "")
    assert observed() == (count, total)


def test_the_batch_limit_follows_the_setting(make_user, client_for, settings):
    settings.LIVE_LAG_BATCH = 3
    client = client_for(make_user())
    assert client.post(LAG, {"lags_ms": [1, 2, 3]}, format="json").status_code == 204
    response = client.post(LAG, {"lags_ms": [1, 2, 3, 4]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"lags_ms": ["At most 3 values per report, got 4."]}


def test_strangers_are_refused(client):
    count, _ = observed()
    assert APIClient().get(CLOCK).status_code == 401
    assert APIClient().post(LAG, {"lags_ms": [5]}, format="json").status_code == 401
    assert observed()[0] == count


def test_reports_are_throttled_per_user_the_clock_is_not(make_user, client_for, settings):
    settings.LIVE_LAG_RATE_LIMIT = "2/min"
    flooder, other = client_for(make_user()), client_for(make_user())
    for _ in range(2):
        assert flooder.post(LAG, {"lags_ms": [5]}, format="json").status_code == 204
    count, _ = observed()
    refused = flooder.post(LAG, {"lags_ms": [5]}, format="json")
    assert refused.status_code == 429
    assert 0 < float(refused["Retry-After"]) <= 60
    assert observed()[0] == count
    assert flooder.get(CLOCK).status_code == 200  # reading the clock uses up nothing
    assert other.post(LAG, {"lags_ms": [5]}, format="json").status_code == 204
