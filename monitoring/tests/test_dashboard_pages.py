"""The in-app dashboards (/dashboards/): who may open them, what they list, and how the data
endpoint refuses what it must (unknown panels, bad parameters, no Prometheus)."""

from __future__ import annotations

import re

import pytest

import testing
from monitoring import panel_data
from monitoring.grafana import build

UIDS = sorted(build.build_all())


def panel_titles(model: dict) -> list[str]:
    return [p["title"] for p in model["panels"] if p["type"] != "row"]


@pytest.fixture
def staff_client(make_user, client):
    client.force_login(make_user("operator", is_staff=True))
    return client


PAGES = ["/dashboards/", f"/dashboards/{UIDS[0]}/"]


@pytest.fixture(params=["anonymous", "member"])
def outsider_client(request, make_user, client):
    """A visitor who is not staff: signed out, or signed in as a plain member."""
    if request.param == "member":
        client.force_login(make_user("member"))
    return client


@pytest.mark.parametrize("path", PAGES)
def test_non_staff_are_sent_to_the_admin_login_as_on_the_live_page(
    outsider_client, path: str
) -> None:
    """One gate for the staff pages: what /live/ does (Django's staff_member_required), the
    dashboards do, for signed-out visitors and signed-in members alike."""
    live = outsider_client.get("/live/")
    response = outsider_client.get(path)
    assert (response.status_code, live.status_code) == (302, 302)
    assert live["Location"] == "/admin/login/?next=/live/"
    assert response["Location"] == f"/admin/login/?next={path}"
    # The login page it leads to says why a signed-in member is there.
    page = outsider_client.get(response["Location"])
    assert page.status_code == 200
    if outsider_client.session.get("_auth_user_id"):
        assert "not authorized to access this page" in page.content.decode()


def test_non_staff_data_requests_get_403_json(outsider_client) -> None:
    """A panel's fetch cannot follow the pages' redirect: it gets 403 JSON it can show."""
    response = outsider_client.get(f"/dashboards/{UIDS[0]}/panels/2/")
    assert response.status_code == 403
    assert response.json()["error"] == "Staff only: sign in as staff."


def test_the_list_links_every_dashboard(staff_client) -> None:
    html = staff_client.get("/dashboards/").content.decode()
    for uid, model in build.build_all().items():
        assert f'href="/dashboards/{uid}/"' in html
        assert model["title"] in html


@pytest.mark.parametrize("uid", UIDS)
def test_each_page_shows_every_panel_of_its_grafana_model(staff_client, uid: str) -> None:
    model = build.build_all()[uid]
    response = staff_client.get(f"/dashboards/{uid}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "https://" not in html  # uPlot from our static files, no CDN
    assert "/static/vendor/uplot/uPlot.iife.min.js" in html
    shown = [p["title"] for row in response.context["rows"] for p in row["panels"]]
    assert shown == panel_titles(model)
    for title in shown:
        assert f">{title}</h3>" in html.replace("&#x27;", "'")
    rows = [p["title"] for p in model["panels"] if p["type"] == "row"]
    assert [row["title"] for row in response.context["rows"] if row["title"]] == rows


@pytest.mark.parametrize(("asked", "selected"), [("6h", "6h"), ("3d", "1h"), (None, "1h")])
def test_the_range_picker_offers_every_range_with_the_asked_one_selected(
    staff_client, asked: str | None, selected: str
) -> None:
    query = f"?range={asked}" if asked else ""
    html = staff_client.get(f"/dashboards/{UIDS[0]}/{query}").content.decode()
    assert re.findall(r'<option value="(\w+)"', html) == ["15m", "1h", "6h", "24h", "7d"]
    assert re.findall(r'<option value="(\w+)" selected>', html) == [selected]


def test_an_unknown_dashboard_is_404(staff_client) -> None:
    assert staff_client.get("/dashboards/nope/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/dashboards/nope/panels/2/",
        f"/dashboards/{UIDS[0]}/panels/999/",
        f"/dashboards/{UIDS[0]}/panels/1/",  # a row, not a panel
    ],
)
def test_the_data_of_an_unknown_panel_is_404(staff_client, path: str) -> None:
    response = staff_client.get(path)
    assert response.status_code == 404
    assert "No panel" in response.json()["error"]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("range=abc", "range"),
        ("range=10", "range"),
        ("range=99999999", "range"),
        ("range=3600&step=0", "step"),
        ("range=3600&step=x", "step"),
        ("range=604800&step=1", "step"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(staff_client, query: str, param: str):
    response = staff_client.get(f"/dashboards/{UIDS[0]}/panels/2/?{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(param)


def test_prometheus_unreachable_is_502_with_a_message(staff_client, settings) -> None:
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{testing.free_port()}"
    response = staff_client.get(f"/dashboards/{UIDS[0]}/panels/2/?range=3600")
    assert response.status_code == 502
    assert response.json()["error"] == (
        f"Prometheus is unreachable at {settings.PROMETHEUS_URL} (ConnectionError)"
    )


def test_grafana_variables_follow_grafanas_rules() -> None:
    # $__rate_interval: max(4 x scrape interval, step + scrape interval).
    assert panel_data.grafana_variables(3600, 15, 15)["$__rate_interval"] == "60s"
    assert panel_data.grafana_variables(86400, 216, 15)["$__rate_interval"] == "231s"
    variables = panel_data.grafana_variables(3600, 15, 15)
    expr = "rate(x[$__range]) + $__range_s + rate(y[$__rate_interval])"
    assert panel_data.fill_variables(expr, variables) == "rate(x[3600s]) + 3600 + rate(y[60s])"
    assert panel_data.scrape_interval() == 15  # the Grafana datasource's timeInterval


def test_every_panel_query_is_left_without_a_grafana_variable() -> None:
    variables = panel_data.grafana_variables(3600, 9, 1)
    for model in build.build_all().values():
        for _, expr in build.iter_queries(model):
            assert "$" not in panel_data.fill_variables(expr, variables), expr


def test_legends_fill_labels_as_grafana_does() -> None:
    assert (
        panel_data.legend("{{worker}} ({{group}})", {"worker": "w1", "group": "live"})
        == "w1 (live)"
    )
    assert panel_data.legend("p95 {{ task }}", {}) == "p95 "
    assert panel_data.legend("", {"__name__": "up", "job": "web"}) == 'up{job="web"}'
