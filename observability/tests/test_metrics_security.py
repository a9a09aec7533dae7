"""/metrics as an outsider sees it: labels a client cannot multiply, and a bearer token when one
is set. (No start without one when DEBUG is off: core/tests/test_secrets.py; a real Prometheus
sending the token: monitoring/tests/test_metrics_token_e2e.py.)"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from prometheus_client.parser import text_string_to_metric_families

LATENCY = "chatplatform_http_request_duration_seconds"
TOKEN = "test-metrics-bearer-token"


def latency_label_values(text: str, label: str) -> set[str]:
    """Every value `label` takes in the request-latency histogram of a /metrics text."""
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(text)
        if family.name == LATENCY
        for sample in family.samples
    }


@pytest.mark.django_db
def test_made_up_methods_and_statuses_add_no_series(client, settings) -> None:
    settings.METRICS_BEARER_TOKEN = ""
    for number in range(40):
        client.generic(f"FOO{number}", "/api/chats/")
        client.generic(f"FOO{number}", f"/no-such-page-{number}/")
    text = client.get("/metrics").content.decode()
    methods = latency_label_values(text, "method")
    assert "other" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    views = latency_label_values(text, "view")
    assert "unmatched" in views
    assert not [view for view in views if "no-such-page" in view]
    standard = {str(status.value) for status in HTTPStatus}
    assert latency_label_values(text, "status") <= standard | {"other"}


@pytest.mark.django_db
def test_a_set_token_is_required(client, settings) -> None:
    settings.METRICS_BEARER_TOKEN = TOKEN
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 403
    basic = client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")
    assert basic.status_code == 401
    for refused in (missing, wrong, basic):
        assert b"chatplatform_" not in refused.content
    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert right.status_code == 200
    assert LATENCY.encode() in right.content


@pytest.mark.django_db
def test_an_empty_token_leaves_metrics_open(client, settings) -> None:
    settings.METRICS_BEARER_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert LATENCY.encode() in response.content
