"""The in-app dashboards in a real browser, drawing real data.

Headless Chromium opens each dashboard as a staff user while the monitoring stack of conftest.py
runs (a real Prometheus scraping the live_server, Flower, Centrifugo and a worker every second,
beat, SMTP) and users, tasks and staff watching /live/ make activity in waves. Every panel must
draw at least two real points per series, and every panel whose numbers this activity moves must
not be a flat line.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from rest_framework.authtoken.models import Token

from monitoring.grafana import build
from monitoring.tests import e2e_tasks
from monitoring.tests.support import (
    chat_activity,
    flower_count,
    http,
    run_tasks,
    wait_snapshot_value,
    wait_value,
)
from testing.browser import screenshot
from testing.people import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Panels that may draw one value all along in this test, and why.
MAY_BE_FLAT = {
    "Workers online": "one worker, online all along",
    "Tasks running": "the test tasks finish within a scrape, so 0 at nearly every point",
    "Emails pending": "the worker sends each email within a scrape",
    "Failure ratio per task": "each test task always fails (1) or always succeeds (0)",
    "Prefetch time per task": "Flower reports 0 prefetch when the worker is idle",
    "Tasks waiting by queue": "the one worker empties every queue within a scrape",
    "Oldest ready task age by queue": "no task waits; the budgets are constants",
    "Workers per queue": "one worker serves every queue all along",
    "Beat entries overdue": "no beat entry is overdue in a healthy stack",
    "Centrifugo nodes up": "Centrifugo is up all along",
    "Live events pending": "the worker publishes each live event within a scrape",
    "Busiest chats (last day)": "bars of last values, not a line",
    "Outbox backlog": "rows in flight only: the worker delivers each within a scrape",
    "Rows deleted by retention (per hour)": "nothing is old enough to expire in this test",
}
RANGE = "15m"  # the shortest choice of the range picker: a few-minute test fills it best


def panel_titles() -> set[str]:
    return {
        p["title"]
        for model in build.build_all().values()
        for p in model["panels"]
        if p["type"] != "row"
    }


def test_every_flat_panel_named_exists() -> None:
    assert set(MAY_BE_FLAT) <= panel_titles()


# Per wave: (test tasks that succeed, that fail, staff watching /live/ over Centrifugo). The mix
# changes so that failure ratios move; watchers come and go so that clients, users and
# subscriptions do.
WAVES = [(3, 2, 1), (1, 3, 2), (4, 1, 0)]
# Per wave: the publish-to-arrival times (ms) a chat page reports, as its script posts them
# (observability.browser_lag), for "Browser-measured live lag"; longer each wave.
LAGS_MS = [[40, 60, 90], [150, 220, 400], [700, 900, 1500]]


def activity_in_waves(stack: dict, open_page, make_user) -> None:
    """Three waves of users' activity, tasks and live-page watchers, some seconds apart, so rates
    and counts rise and fall."""
    prometheus = stack["prometheus"]
    watchers: list = []
    succeeded = failed = created = 0
    reporter = Token.objects.create(user=make_user("lag-reporter")).key
    for wave, (succeed, fail, watching) in enumerate(WAVES, start=1):
        status, body = http(
            f"{stack['web']}/api/live/lag/",
            {"lags_ms": LAGS_MS[wave - 1]},
            {"Authorization": f"Token {reporter}"},
        )
        assert status == 204, body[:300]
        while len(watchers) < watching:
            created += 1
            watcher = make_user(f"watcher{created}", is_staff=True)
            watchers.append(open_page(watcher, "/live/", login="/admin/login/"))
            watchers[-1].wait_for_selector("body[data-subscribed-stats=yes]")
        while len(watchers) > watching:
            watchers.pop().context.close()
        chat_activity(stack["web"], wave)
        run_tasks(succeed, fail)
        succeeded, failed = succeeded + succeed, failed + fail
        wait_value(prometheus, flower_count(e2e_tasks.FAIL, "task-failed"), failed)
        wait_value(prometheus, flower_count(e2e_tasks.SUCCEED, "task-succeeded"), succeeded)
        wait_value(prometheus, "sum(centrifugo_node_num_clients)", watching)
        # Three users a wave, the operator, the lag reporter and the watchers.
        wait_snapshot_value(prometheus, "chatplatform_users", 3 * wave + 2 + created)
        time.sleep(5)


def drawn_panels(page) -> list[dict]:
    """What each panel element says it drew."""
    return page.eval_on_selector_all(
        ".dash-panel",
        """els => els.map(el => ({
            title: el.querySelector('h3').textContent,
            type: el.dataset.type,
            state: el.dataset.state,
            message: el.querySelector('.dash-message').textContent,
            points: (el.dataset.points || '').split(',').filter(Boolean).map(Number),
            distinct: (el.dataset.distinct || '').split(',').filter(Boolean).map(Number),
        }))""",
    )


def problems(panels: list[dict]) -> list[str]:
    found = []
    for panel in panels:
        title = panel["title"]
        if panel["state"] != "drawn":
            found.append(f"{title}: {panel['state']} {panel['message']}")
        elif min(panel["points"]) < 2:
            found.append(f"{title}: points per series {panel['points']}")
        elif title not in MAY_BE_FLAT and max(panel["distinct"]) < 2:
            found.append(f"{title}: a flat line")
    return found


def test_each_dashboard_draws_every_panel_with_real_data(
    stack: dict, settings, browser, live_server, make_user, open_page
) -> None:
    settings.PROMETHEUS_URL = stack["prometheus"].url
    operator = make_user("operator", is_staff=True)
    activity_in_waves(stack, open_page, make_user)

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda error: print(f"[browser] error: {error}"))
    page.set_default_timeout(30_000)
    first = next(iter(build.build_all()))
    path = f"/dashboards/{first}/?range={RANGE}"
    page.goto(f"{live_server.url}/admin/login/?{urlencode({'next': path})}")
    page.fill("#id_username", operator.username)
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")

    for uid, model in build.build_all().items():
        # Rates need two scrapes inside their window, and the latest wave's series a few more
        # seconds: load the page again until every panel has what it must draw.
        deadline = time.monotonic() + 90
        while True:
            page.goto(f"{live_server.url}/dashboards/{uid}/?range={RANGE}")
            page.wait_for_selector("body[data-refreshed]")
            panels = drawn_panels(page)
            found = problems(panels)
            if not found or time.monotonic() > deadline:
                break
            time.sleep(3)
        screenshot(page, f"dashboards-{uid}.png")
        assert [p["title"] for p in panels] == [
            p["title"] for p in model["panels"] if p["type"] != "row"
        ]
        assert found == [], f"{model['title']}: {found}"
        # A stat shows its last value formatted in its unit; the page is no longer loading.
        assert page.locator(".dash-stat .stat-value").count() == sum(
            p["type"] == "stat" for p in panels
        )
        assert page.locator(".dash-panel[data-state=loading]").count() == 0
    context.close()
