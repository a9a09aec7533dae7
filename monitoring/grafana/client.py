"""Push the dashboards (and their datasource) to a running Grafana through its HTTP API.

For a Grafana that is not provisioned from files (docker compose provisions them; see
monitoring/grafana/provisioning/). Uses grafana-client, the maintained successor of grafana-api.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaUnauthorizedError,
)

from monitoring.grafana import build
from monitoring.grafana.datasource import provisioned_datasource


class SyncError(Exception):
    """Grafana could not be reached or refused the request; the message says which and why."""


@dataclass
class SyncReport:
    datasource: str = ""  # "created" or "exists"
    created: list[str] = field(default_factory=list)  # dashboard titles
    updated: list[str] = field(default_factory=list)


def datasource_payload(prometheus_url: str) -> dict:
    """The body of POST /api/datasources for the provisioned datasource at another URL."""
    source = provisioned_datasource()
    return {
        "name": source["name"],
        "uid": source["uid"],
        "type": source["type"],
        "access": source["access"],
        "url": prometheus_url,
        "isDefault": source.get("isDefault", False),
        "jsonData": source.get("jsonData", {}),
    }


def _describe(exc: GrafanaException, url: str) -> str:
    if isinstance(exc, GrafanaUnauthorizedError):
        return f"Grafana at {url} refused the token (401): check --token (a service account token)"
    if isinstance(exc, GrafanaClientError) and exc.status_code == 403:
        return f"Grafana at {url} refused the request (403): the token needs the Editor role"
    if exc.status_code == 0:
        return f"cannot reach Grafana at {url}: {exc.message}"
    return f"Grafana at {url} answered {exc.status_code}: {exc.message}"


def sync(url: str, token: str, prometheus_url: str, timeout: float = 10.0) -> SyncReport:
    """Create the datasource if missing, then create or overwrite every dashboard by uid."""
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    report = SyncReport()
    try:
        uid = provisioned_datasource()["uid"]
        try:
            api.datasource.get_datasource_by_uid(uid)
            report.datasource = "exists"
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.datasource.create_datasource(datasource_payload(prometheus_url))
            report.datasource = "created"
        for dashboard_uid, model in build.build_all().items():
            try:
                api.dashboard.get_dashboard(dashboard_uid)
                existed = True
            except GrafanaClientError as exc:
                if exc.status_code != 404:
                    raise
                existed = False
            api.dashboard.update_dashboard(
                {
                    "dashboard": {**model, "id": None},
                    "overwrite": True,
                    "message": "manage.py sync_dashboards",
                }
            )
            (report.updated if existed else report.created).append(model["title"])
    except GrafanaException as exc:
        raise SyncError(_describe(exc, url)) from exc
    except niquests.exceptions.RequestException as exc:
        raise SyncError(f"cannot reach Grafana at {url}: {exc}") from exc
    except ValueError as exc:  # a 200 that is not JSON: some other server at that URL
        raise SyncError(f"{url} did not answer like Grafana's HTTP API: {exc}") from exc
    return report
