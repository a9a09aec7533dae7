"""The dashboard JSON: committed equals built, stable uids, unique panel ids, one datasource."""

from __future__ import annotations

from pathlib import Path

import yaml

from monitoring.grafana import build
from monitoring.grafana.build import panels
from monitoring.grafana.build.__main__ import main as build_main

PROVISIONING = Path(__file__).resolve().parents[1] / "grafana" / "provisioning"
EXPECTED = {
    "chatplatform-task-health": "Task health",
    "chatplatform-chat-activity": "Chat activity",
    "chatplatform-live-delivery": "Live delivery",
}


def _all_panels(model: dict) -> list[dict]:
    panels = []
    for panel in model["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # panels inside a collapsed row
    return panels


def test_committed_json_equals_what_the_code_builds() -> None:
    built = build.build_all()
    committed = {path.stem: path.read_text() for path in build.JSON_DIR.glob("*.json")}
    assert set(committed) == set(built), "run `make dashboards` and commit monitoring/grafana/json/"
    for uid, model in built.items():
        assert committed[uid] == build.render(model), f"{uid}.json is stale: run `make dashboards`"


def test_building_twice_gives_the_same_json() -> None:
    first = {uid: build.render(model) for uid, model in build.build_all().items()}
    assert first == {uid: build.render(model) for uid, model in build.build_all().items()}


def test_dashboards_have_stable_uids_and_titles() -> None:
    built = build.build_all()
    assert {uid: model["title"] for uid, model in built.items()} == EXPECTED
    for uid, model in built.items():
        assert model["uid"] == uid
        assert "id" not in model or model["id"] is None  # Grafana assigns its own


def test_panel_ids_are_unique_and_positive() -> None:
    for uid, model in build.build_all().items():
        ids = [panel["id"] for panel in _all_panels(model)]
        assert len(ids) == len(set(ids)), f"duplicate panel ids in {uid}: {ids}"
        assert all(isinstance(i, int) and i > 0 for i in ids), ids


def test_every_query_uses_only_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    [source] = provisioned["datasources"]
    assert source["uid"] == panels.DATASOURCE_UID
    assert source["type"] == "prometheus"
    queried = 0
    for uid, model in build.build_all().items():
        for panel in _all_panels(model):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}, (
                uid,
                panel["title"],
            )
            assert panel["targets"], f"{uid}: panel {panel['title']!r} has no query"
            for target in panel["targets"]:
                assert target.get("datasource", panel["datasource"]) == panel["datasource"]
                assert target["expr"].strip()
                queried += 1
    assert queried >= 30


def test_no_query_reads_the_finished_status_gauges() -> None:
    """Finished rows (sent, failed, folded, cancelled) are counters now (`*_done_total`); the
    gauges keep only the rows in flight, so a query of a finished status there draws nothing."""
    for model in build.build_all().values():
        for title, expr in build.iter_queries(model):
            for gauge in ("chatplatform_notifications{", "chatplatform_publications{"):
                finished = ("sent", "failed", "folded", "cancelled")
                assert not any(f'{gauge}status="{status}"' in expr for status in finished), (
                    model["title"],
                    title,
                    expr,
                )


def test_panels_cover_what_the_operator_asked_for() -> None:
    titles = {
        uid: {panel["title"] for panel in _all_panels(model)}
        for uid, model in build.build_all().items()
    }
    assert {
        "Workers online",
        "Tasks processed per task",
        "Tasks failed per task",
        "Failure ratio per task",
        "Runtime p50 / p95 per task",
        "Prefetch time per task",
        "Retries per task",
        "Outbox backlog",
        "Tasks waiting by queue",
        "Oldest ready task age by queue",
        "Time in queue p50 / p95 by queue",
        "Worker heartbeat age",
        "Workers per queue",
        "Beat: time since last run",
        "Beat entries overdue",
        "Outbox finished per second",
        "Rows per table",
        "Table rows against budget",
        "Oldest row age against retention",
        "Rows deleted by retention (per hour)",
        "Report folder size",
    } <= titles["chatplatform-task-health"]
    assert {
        "Messages per hour",
        "Active users",
        "New users per day",
        "Busiest chats (last day)",
        "Time since last success",
    } <= titles["chatplatform-chat-activity"]
    assert {
        "Connected clients",
        "Publications",
        "API latency p50 / p95",
        "Browser-measured live lag",
    } <= titles["chatplatform-live-delivery"]


def test_dashboard_provider_points_where_compose_mounts_the_json() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "chatplatform.yml").read_text())
    [entry] = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"] == "/var/lib/grafana/dashboards/chatplatform"


def test_build_writes_one_file_per_dashboard_and_removes_stale_ones(tmp_path: Path) -> None:
    (tmp_path / "old-dashboard.json").write_text("{}")
    assert build_main(["--output", str(tmp_path)]) == 0
    assert sorted(path.stem for path in tmp_path.glob("*.json")) == sorted(EXPECTED)
