"""The Grafana dashboards of Chat Platform, built from code with grafana-foundation-sdk.

`python -m monitoring.grafana.build` (or `make dashboards`) writes one JSON file per dashboard
into monitoring/grafana/json/, which Grafana loads through file provisioning (provisioning/) and
`manage.py sync_dashboards` pushes over Grafana's HTTP API. A test checks that the committed JSON
equals what this package builds, so edit the code and regenerate, never the JSON.

One module per dashboard (task_health, chat_activity, live_delivery) declares its panels and
queries; panels.py holds what they share. This module turns them into the JSON models Grafana
stores and writes them; __main__.py is the command line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from monitoring.grafana.build import chat_activity, live_delivery, task_health
from monitoring.grafana.build.panels import Dashboard

__all__ = [
    "DASHBOARDS",
    "JSON_DIR",
    "build_all",
    "iter_queries",
    "render",
    "write",
]

JSON_DIR = Path(__file__).resolve().parent.parent / "json"

DASHBOARDS: list[Callable[[], Dashboard]] = [
    task_health.dashboard,
    chat_activity.dashboard,
    live_delivery.dashboard,
]


def _number_panels(panels: list) -> None:
    """Give every panel (rows included) a stable id: its position in the dashboard."""
    for number, panel in enumerate(panels, start=1):
        panel.id_val = number


def build_all() -> dict[str, dict]:
    """Every dashboard as the JSON model Grafana stores, keyed by uid."""
    result = {}
    for make in DASHBOARDS:
        model = make().build()
        _number_panels(model.panels)
        result[model.uid] = json.loads(JSONEncoder(sort_keys=True).encode(model))
    return result


def render(model: dict) -> str:
    """The text written for one dashboard: stable key order, so diffs stay small."""
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


def iter_queries(model: dict) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL expression) of every query of a dashboard."""
    for panel in model.get("panels", []):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def write(directory: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard to `directory`/<uid>.json and remove stale ones."""
    directory.mkdir(parents=True, exist_ok=True)
    models = build_all()
    written = []
    for uid, model in models.items():
        path = directory / f"{uid}.json"
        path.write_text(render(model))
        written.append(path)
    for path in directory.glob("*.json"):
        if path not in written:
            path.unlink()
    return written
