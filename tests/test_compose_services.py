"""docker-compose.yml as a real Compose implementation loads it: compose-go, the Compose
Specification's reference library that docker compose itself is built on, through
tests/compose_config (LoadProject, as `docker compose config`): schema, `.env` interpolation,
normalization, consistency. Then the services it declares: pinned images, the start order each
depends_on condition promises, a health check on each long-running service's own port, data in
named volumes. The loader is in tests/support.py, the fixtures in tests/conftest.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from tests.support import (
    APP_SERVICES,
    DJANGO_SERVICES,
    PUBLIC_BASE_URL,
    ROOT,
    SERVICES,
    WORKERS,
    example_env_text,
    health_check_ports,
    listening_ports,
    load,
    make_project,
)

# The fixtures project_dir, config and services are in tests/conftest.py (one load a module).

# --- the reference loader --------------------------------------------------------------------


def test_the_reference_loader_accepts_the_file(services: dict) -> None:
    assert set(services) == SERVICES


def test_each_worker_group_is_a_service_started_from_the_declaration(services: dict) -> None:
    """Queues, processes and prefetch come from settings.WORKER_GROUPS, never the command."""
    from django.conf import settings

    assert {f"worker-{group}" for group in settings.WORKER_GROUPS} == WORKERS
    for name in WORKERS:
        command = services[name]["command"]
        assert command[:4] == ["python", "-m", "launchers.workers", name.removeprefix("worker-")]
        assert not {"-Q", "--queues", "-c", "--concurrency"} & set(command)


def test_the_loader_is_strict_enough_to_catch_mistakes(tmp_path: Path) -> None:
    """The check above can fail: an unknown key, a missing service, a missing secret all do."""
    text = (ROOT / "docker-compose.yml").read_text()
    typo = text.replace("    healthcheck:\n", "    healthchek:\n", 1)
    result = load(make_project(tmp_path / "typo", compose_text=typo))
    assert result.returncode != 0 and "healthchek" in result.stderr

    missing = text.replace("    mailpit:\n      condition", "    mailbox:\n      condition", 1)
    result = load(make_project(tmp_path / "missing", compose_text=missing))
    assert result.returncode != 0 and "mailbox" in result.stderr

    no_secret = "\n".join(
        line
        for line in example_env_text().splitlines()
        if not line.startswith("POSTGRES_PASSWORD=")
    )
    result = load(make_project(tmp_path / "no-secret", env_text=no_secret))
    assert result.returncode != 0 and "set POSTGRES_PASSWORD in .env" in result.stderr


def test_compose_refuses_to_start_without_public_base_url(tmp_path: Path) -> None:
    """The app containers run with DEBUG off, whose settings refuse an empty PUBLIC_BASE_URL at
    migrate; compose asks for it first, saying where to read about it. Set, it reaches them."""
    result = load(make_project(tmp_path / "unset", env_text=example_env_text("")))
    assert result.returncode != 0
    assert "set PUBLIC_BASE_URL to the https address users reach" in result.stderr
    assert "docs/compose.md" in result.stderr

    result = load(make_project(tmp_path / "set", env_text=example_env_text()))
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name in DJANGO_SERVICES:
        assert services[name]["environment"]["PUBLIC_BASE_URL"] == PUBLIC_BASE_URL, name


# --- images, order, health -------------------------------------------------------------------


def test_third_party_images_are_pinned_and_the_app_is_built_here(services: dict) -> None:
    for name, service in services.items():
        if name in APP_SERVICES | {"static"}:
            assert service["build"]["context"].endswith("chatplatform"), name
            assert Path(service["build"]["context"], service["build"]["dockerfile"]).is_file()
            continue
        image, _, tag = service["image"].rpartition(":")
        assert image and re.match(r"^v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$", tag), (
            f"{name}: unpinned {service['image']}"
        )
    assert services["centrifugo"]["image"] == "centrifugo/centrifugo:v6.9.1"
    # The proxy: nginx's stable branch (its template is Debian 12's 1.22's too).
    assert services["proxy"]["image"] == "nginx:1.30.4-alpine"
    # The load balancer: the HAProxy branch of Debian's, which the cluster tests run.
    debian = subprocess.run(
        [shutil.which("haproxy") or "/usr/sbin/haproxy", "-v"], capture_output=True, text=True
    ).stdout
    branch = re.search(r"HAProxy version (\d+\.\d+)\.", debian)[1]
    assert services["centrifugo-lb"]["image"].startswith(f"haproxy:{branch}."), branch


def test_every_condition_has_something_to_wait_for(services: dict) -> None:
    for name, service in services.items():
        for target, dep in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if dep["condition"] == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target}'s health"
            elif dep["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no", f"{target} must be a one-shot"
    for app in ("web", "beat", *WORKERS):
        depends = services[app]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    scraped = services["prometheus"]["depends_on"]
    assert {name for name, d in scraped.items() if d["condition"] == "service_healthy"} == {
        "web",
        "flower",
        "centrifugo",
        "centrifugo-lb",
    }
    # The app reaches Centrifugo through the balancer, which waits for the first node.
    for app in ("web", *WORKERS):
        assert services[app]["depends_on"]["centrifugo-lb"]["condition"] == "service_healthy"
        assert "centrifugo" not in services[app]["depends_on"], app
    assert services["centrifugo-lb"]["depends_on"]["centrifugo"]["condition"] == "service_healthy"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_long_running_services_have_health_checks_on_their_own_port(services: dict) -> None:
    for name, service in services.items():
        if name in ("check-secrets", "migrate", "static", "alertmanager-config", "beat"):
            continue  # a one-shot; beat has no port (the stats-job alerts watch it)
        check = service.get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
        for port in health_check_ports(check["test"]):
            assert port in listening_ports(name, service), f"{name} checks port {port}"
    assert health_check_ports(services["centrifugo-lb"]["healthcheck"]["test"]) == {8404}


def test_data_lives_in_named_volumes(config: dict, services: dict) -> None:
    expected = {
        "postgres": "/var/lib/postgresql/data",
        "redis": "/data",
        "prometheus": "/prometheus",
        "grafana": "/var/lib/grafana",
        "mailpit": "/data",
        "flower": "/data/flower",
        "beat": "/data/beat",
        **dict.fromkeys(WORKERS, "/data/reports"),
        "jupyter": "/app/reports",  # under its file browser's root
    }
    for name, target in expected.items():
        named = {
            m["target"]: m["source"] for m in services[name]["volumes"] if m["type"] == "volume"
        }
        assert target in named, f"{name} keeps {target} in no named volume"
        assert named[target] in config["volumes"]
    # The reports the worker writes are the ones Jupyter reads; the app reads them there.
    for worker in WORKERS:
        assert services[worker]["environment"]["REPORTS_DIR"] == "/data/reports"
    assert services["jupyter"]["environment"]["REPORTS_DIR"] == "/app/reports"
