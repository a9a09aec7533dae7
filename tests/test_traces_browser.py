"""From a slow point on a latency panel to its trace, in headless Chromium, on real processes.

A traced web process (gunicorn, observability.tracing on, to the test's Jaeger) serves a slow
request: a login attempt, which runs the password hasher (PBKDF2, ~0.3 s here) while the other
requests take milliseconds. A real Prometheus scrapes the web process. A staff user opens Live
delivery on that web process, clicks the newest point of "API latency p50 / p95" (the link
dashboards.js builds from the panel's Grafana data link), lands on /traces/ listing the slowest
web trace of that window first, and opens its waterfall, served from Jaeger.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import testing
from monitoring.tests.support import local_prometheus
from testing.browser import screenshot, signed_in_page

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WEB = "chatplatform-web"
PANEL = "API latency p50 / p95"


@pytest.fixture
def traced_web(jaeger, redis_service, settings, tmp_path) -> Iterator[dict]:
    """A traced web process and a Prometheus scraping it every second."""
    env = testing.django_env(
        REDIS_URL=redis_service.url,
        CELERY_BROKER_URL=redis_service.url,
        CACHE_URL=redis_service.cache_url,
        **jaeger.env(),
    )
    web = testing.WebProcess(env, "traced-web")
    prometheus = local_prometheus(settings, tmp_path, web.url, {})
    web.env.update(
        METRICS_BEARER_TOKEN=settings.METRICS_BEARER_TOKEN, PROMETHEUS_URL=prometheus.url
    )
    with web, prometheus:
        yield {"web": web.url, "prometheus": prometheus}


def slow_login(base: str) -> None:
    """A login attempt for nobody: Django still runs the default hasher once (PBKDF2), so the
    request is slow while it answers with the form again."""
    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=10).raise_for_status()
    response = session.post(
        f"{base}/admin/login/",
        data={
            "username": "nobody-at-all",
            "password": "not the password",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=30,
    )
    assert response.status_code == 200 and "Please enter the correct" in response.text


def slowest_in_jaeger(jaeger, start_us: int, end_us: int) -> dict:
    traces = jaeger.find_traces(WEB, limit=200, start=start_us, end=end_us)
    return max(
        traces,
        key=lambda t: (
            max(s["startTime"] + s["duration"] for s in t["spans"])
            - min(s["startTime"] for s in t["spans"])
        ),
    )


def test_a_slow_point_on_a_latency_panel_opens_its_slowest_trace(
    traced_web, jaeger, browser, make_user
) -> None:
    base, prometheus = traced_web["web"], traced_web["prometheus"]
    for _ in range(3):
        requests.get(f"{base}/admin/login/", timeout=10)  # fast ones around it
    slow_login(base)
    jaeger.wait_for_traces(
        WEB, predicate=lambda t: any(s["operationName"].startswith("POST") for s in t["spans"])
    )
    testing.wait_until(
        lambda: prometheus.value(
            "sum(rate(chatplatform_http_request_duration_seconds_count[1m])) > 0"
        ),
        30,
        "Prometheus has the request rate",
    )

    context, page = signed_in_page(browser, base, make_user("operator", is_staff=True))
    try:
        panel = page.locator(".dash-panel", has=page.locator("h3", has_text=PANEL))

        def drawn() -> bool:
            """The panel's newest grid point may precede Prometheus' second scrape (no rate
            yet: "No data"): open the dashboard again until the panel draws."""
            page.goto(f"{base}/dashboards/chatplatform-live-delivery/?range=15m")
            panel.locator("xpath=self::*[@data-state!='loading']").wait_for()
            return panel.get_attribute("data-state") == "drawn"

        testing.wait_until(drawn, 60, f"the panel {PANEL!r} drawn", interval=2)
        # The panel's range link, and a click on its newest point.
        range_link = panel.locator("a.trace-link").get_attribute("href")
        assert range_link.startswith(f"/traces/?service={WEB}&sort=slowest&start=")
        over = panel.locator(".u-over")
        box = over.bounding_box()
        over.click(position={"x": box["width"] - 2, "y": box["height"] / 2})
        page.wait_for_url(re.compile(r".*/traces/\?.*"))
        query = parse_qs(urlsplit(page.url).query)
        assert query["service"] == [WEB] and query["sort"] == ["slowest"]
        at_us = int(query["at"][0]) * 1000
        assert abs(at_us / 1e6 - time.time()) < 60  # the newest point: now

        rows = page.locator("#trace-list tbody tr")
        assert rows.count() >= 2
        expected = slowest_in_jaeger(jaeger, at_us - 300_000_000, at_us + 30_000_000)
        first = rows.nth(0)
        assert first.get_attribute("data-trace-id") == expected["traceID"]
        assert "POST" in first.inner_text()  # the login attempt, the slow one
        durations = [
            int(rows.nth(i).locator("[data-duration-us]").get_attribute("data-duration-us"))
            for i in range(rows.count())
        ]
        assert durations == sorted(durations, reverse=True)
        print(f"slowest: {first.inner_text()!r}; next {durations[1]} µs")

        first.locator("a").first.click()
        page.wait_for_url(f"{base}/traces/{expected['traceID']}/")
        spans = page.locator("#waterfall details.wf-span")
        assert spans.count() == len(jaeger.get_trace(expected["traceID"])["spans"])
        assert page.locator("#trace-summary").inner_text().startswith(f"{WEB}: POST")
        spans.nth(0).locator("summary").click()
        assert spans.nth(0).locator(".wf-attrs").is_visible()
        screenshot(page, "trace-waterfall.png")
    finally:
        context.close()
