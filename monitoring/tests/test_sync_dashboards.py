"""manage.py sync_dashboards against an HTTP server that answers as Grafana's API does.

No Grafana can run here, so the server checks what Grafana checks: the bearer token, the uid
lookups, and the shape of POST /api/datasources and POST /api/dashboards/db.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitoring.grafana import build
from monitoring.grafana.build import panels
from testing import free_port

TOKEN = "glsa_test-service-account-token"


class FakeGrafana:
    """Dashboards and datasources kept by uid; every request recorded as (method, path, body)."""

    def __init__(self) -> None:
        self.dashboards: dict[str, dict] = {}
        self.datasources: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
        self.errors: list[str] = []
        self.auth_headers: list[str | None] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((method, self.path, body))
                fake.auth_headers.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(401, {"message": "invalid API key"})
                status, reply = fake.route(method, self.path, body)
                self._reply(status, reply)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def route(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if method == "GET" and path.startswith("/api/datasources/uid/"):
            uid = path.rsplit("/", 1)[1]
            if uid in self.datasources:
                return 200, self.datasources[uid]
            return 404, {"message": "Data source not found"}
        if method == "POST" and path == "/api/datasources":
            missing = {"name", "type", "url", "access", "uid"} - set(body)
            if missing:
                self.errors.append(f"datasource without {missing}")
                return 400, {"message": f"missing {missing}"}
            self.datasources[body["uid"]] = {**body, "id": len(self.datasources) + 1}
            return 200, {"message": "Datasource added", "id": len(self.datasources)}
        if method == "GET" and path.startswith("/api/dashboards/uid/"):
            uid = path.rsplit("/", 1)[1]
            if uid in self.dashboards:
                return 200, {"dashboard": self.dashboards[uid], "meta": {"slug": uid}}
            return 404, {"message": "Dashboard not found"}
        if method == "POST" and path == "/api/dashboards/db":
            dashboard = body.get("dashboard") or {}
            if not dashboard.get("uid") or not dashboard.get("title"):
                self.errors.append("dashboard without uid or title")
                return 400, {"message": "Dashboard title cannot be empty"}
            if dashboard.get("id") is not None:
                self.errors.append("dashboard with a foreign id")
                return 404, {"message": "Dashboard not found"}
            exists = dashboard["uid"] in self.dashboards
            if exists and body.get("overwrite") is not True:
                return 412, {"message": "A dashboard with the same uid already exists"}
            version = self.dashboards.get(dashboard["uid"], {}).get("version", 0) + 1
            self.dashboards[dashboard["uid"]] = {**dashboard, "version": version}
            return 200, {"status": "success", "uid": dashboard["uid"], "version": version}
        return 404, {"message": "Not found"}

    def __enter__(self) -> FakeGrafana:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as fake:
        yield fake


def sync(url: str, token: str = TOKEN, *extra: str) -> str:
    out = StringIO()
    call_command("sync_dashboards", "--url", url, "--token", token, *extra, stdout=out)
    return out.getvalue()


def test_first_sync_creates_the_datasource_and_every_dashboard(grafana: FakeGrafana) -> None:
    output = sync(grafana.url, TOKEN, "--prometheus-url", "http://prom.internal:9090")

    assert "datasource created" in output
    for title in ("Task health", "Chat activity", "Live delivery"):
        assert f"created {title}" in output
    assert "3 created, 0 updated" in output
    assert grafana.errors == []
    # The datasource: looked up by its fixed uid, then created with it and the given URL.
    assert grafana.requests[0][:2] == ("GET", f"/api/datasources/uid/{panels.DATASOURCE_UID}")
    assert grafana.requests[1][:2] == ("POST", "/api/datasources")
    created = grafana.requests[1][2]
    assert created["uid"] == panels.DATASOURCE_UID
    assert created["type"] == "prometheus"
    assert created["url"] == "http://prom.internal:9090"
    assert created["access"] == "proxy"
    # Each dashboard: posted whole, with overwrite, as the code builds it.
    posts = [body for method, path, body in grafana.requests if path == "/api/dashboards/db"]
    assert len(posts) == 3
    built = build.build_all()
    for body in posts:
        assert body["overwrite"] is True
        model = body["dashboard"]
        assert model["id"] is None
        assert {**model, "id": None} == {**built[model["uid"]], "id": None}
    assert set(grafana.dashboards) == set(built)


def test_second_sync_updates_and_keeps_the_datasource(grafana: FakeGrafana) -> None:
    sync(grafana.url)
    grafana.requests.clear()

    output = sync(grafana.url)

    assert "datasource exists" in output
    assert "0 created, 3 updated" in output
    for title in ("Task health", "Chat activity", "Live delivery"):
        assert f"updated {title}" in output
    assert not [r for r in grafana.requests if r[:2] == ("POST", "/api/datasources")]
    assert {model["version"] for model in grafana.dashboards.values()} == {2}


def test_every_request_carries_the_token_as_a_bearer_header(grafana: FakeGrafana) -> None:
    sync(grafana.url)
    assert len(grafana.auth_headers) == 8  # datasource lookup + create, 3 x (lookup + post)
    assert set(grafana.auth_headers) == {f"Bearer {TOKEN}"}


def test_wrong_token_fails_clearly_and_changes_nothing(grafana: FakeGrafana) -> None:
    with pytest.raises(CommandError, match=r"refused the token \(401\)"):
        sync(grafana.url, "not-the-token")
    assert grafana.dashboards == {}
    assert grafana.datasources == {}


def test_wrong_url_fails_clearly() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(CommandError, match=f"cannot reach Grafana at {url}"):
        sync(url, TOKEN, "--timeout", "2")


def test_a_server_that_is_not_grafana_fails_clearly(grafana: FakeGrafana) -> None:
    with pytest.raises(CommandError, match=r"answered 404"):
        sync(grafana.url + "/not-grafana")
