"""Where the trace links and the trace datasource point, as Grafana and the in-app dashboards
read them from the built JSON (no services needed)."""

from __future__ import annotations

from pathlib import Path

import yaml

from monitoring.grafana import build
from monitoring.grafana.build import panels

PROVISIONING = Path(__file__).resolve().parents[1] / "grafana" / "provisioning"
LINKED = {
    "chatplatform-live-delivery": {
        "API latency p50 / p95": "chatplatform-web",
        "API p95 latency by view": "chatplatform-web",
    },
    "chatplatform-task-health": {
        "Runtime p50 / p95 per task": "chatplatform-worker-*",
        "Time in queue p50 / p95 by queue": "chatplatform-worker-*",
    },
}


def _panels(uid: str) -> dict[str, dict]:
    return {p["title"]: p for p in build.build_all()[uid]["panels"] if p["type"] != "row"}


def test_each_latency_panel_links_a_point_and_its_range_to_the_slowest_traces() -> None:
    for uid, titles in LINKED.items():
        model = build.build_all()[uid]
        [variable] = [v for v in model["templating"]["list"] if v["name"] == "app_url"]
        assert variable["type"] == "textbox" and variable["query"] == panels.APP_URL_DEFAULT
        found = _panels(uid)
        for title, service in titles.items():
            base = f"${{app_url}}/traces/?service={service}&sort=slowest"
            [point] = found[title]["fieldConfig"]["defaults"]["links"]
            assert point == {
                "title": panels.POINT_LINK_TITLE,
                "url": f"{base}&at=${{__value.time}}",
                "targetBlank": False,
            }
            [whole] = found[title]["links"]
            assert whole["url"] == f"{base}&start=${{__from}}&end=${{__to}}"
        unlinked = [t for t, p in found.items() if t not in titles and p.get("links")]
        assert unlinked == []


def test_the_in_app_dashboards_hand_the_same_links_to_dashboards_js() -> None:
    from monitoring.views import layout

    model = build.build_all()["chatplatform-live-delivery"]
    shown = {p["title"]: p for row in layout(model) for p in row["panels"]}
    api = shown["API latency p50 / p95"]
    assert api["pointLinks"] == [
        "${app_url}/traces/?service=chatplatform-web&sort=slowest&at=${__value.time}"
    ]
    assert api["rangeLinks"] == [
        "${app_url}/traces/?service=chatplatform-web&sort=slowest&start=${__from}&end=${__to}"
    ]
    assert shown["Connected clients"]["pointLinks"] == []


def test_the_browser_lag_panel_sits_next_to_the_server_side_publish_latency() -> None:
    found = _panels("chatplatform-live-delivery")
    lag = found["Browser-measured live lag"]
    assert [t["expr"] for t in lag["targets"]] == [
        f"histogram_quantile({q}, sum by (le) "
        "(rate(chatplatform_live_browser_lag_seconds_bucket[5m])))"
        for q in (0.5, 0.95)
    ]
    assert [t["legendFormat"] for t in lag["targets"]] == ["p50", "p95"]
    assert lag["fieldConfig"]["defaults"]["unit"] == "s"
    beside = found["Centrifugo API latency p95"]
    assert lag["gridPos"]["y"] == beside["gridPos"]["y"]
    assert lag["gridPos"]["w"] == beside["gridPos"]["w"] == 12


def test_compose_grafana_gets_jaeger_as_a_datasource() -> None:
    [source] = yaml.safe_load((PROVISIONING / "datasources" / "jaeger.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "jaeger"
    assert source["url"] == "http://jaeger:16686"
    assert source["uid"] != panels.DATASOURCE_UID and not source["isDefault"]
