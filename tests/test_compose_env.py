"""What `.env` decides in docker-compose.yml and what it cannot: the hosts, WebSocket URL and
origins it sets (never DJANGO_DEBUG), the defaults when it leaves them empty (the public address
behind the TLS proxy: PUBLIC_BASE_URL, PROD_HOST, HTTPS_PORT); the secrets that
reach the containers only from it; and the placeholders of `.env.example`, with which nothing
starts (the secrets check first, then the settings themselves); and jupyter, which gets none of
it: the reports read-only and the read-only statistics token. Helpers: tests/support.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from django.urls import resolve

from tests.support import (
    DJANGO_SERVICES,
    PLACEHOLDER,
    PUBLIC_BASE_URL,
    ROOT,
    SECRET_NAME,
    depends_on_completed,
    env_example,
    generated_env_text,
    listening_ports,
    load,
    make_project,
    run_in,
)

# The fixtures project_dir, config and services are in tests/conftest.py (one load a module).


# --- what .env decides, and what it cannot ---------------------------------------------------


def test_env_sets_hosts_websocket_url_and_origins_but_never_debug(tmp_path: Path) -> None:
    """`environment:` wins over env_file, so .env reaches these only through ${interpolation};
    DJANGO_DEBUG stays off (.env.example's `true` is for runserver); PROD_HOST, 127.0.0.1 (the
    health checks) and `web` (Prometheus) stay allowed."""
    example = (ROOT / ".env.example").read_text()
    assert "\nDJANGO_DEBUG=true\n" in example  # the value compose must not follow
    settings = {
        "PROD_HOST": "chat.example.com",
        "DJANGO_ALLOWED_HOSTS": "api.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://api.example.com",
        "CENTRIFUGO_WS_URL": "wss://live.example.com/connection/websocket",
        "CENTRIFUGO_ALLOWED_ORIGINS": "https://chat.example.com https://api.example.com",
        "PUBLIC_BASE_URL": "https://chat.example.com",
        "TRUSTED_PROXY_COUNT": "2",
    }
    env_text, replaced = re.subn(
        rf"^({'|'.join(settings)})=.*$", lambda m: f"{m[1]}={settings[m[1]]}", example, flags=re.M
    )
    assert replaced == len(settings)
    result = load(make_project(tmp_path / "proxied", env_text=env_text))
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name in DJANGO_SERVICES:
        env = services[name]["environment"]
        assert env["DJANGO_ALLOWED_HOSTS"] == "chat.example.com,api.example.com,127.0.0.1,web"
        assert env["DJANGO_CSRF_TRUSTED_ORIGINS"] == settings["DJANGO_CSRF_TRUSTED_ORIGINS"]
        assert env["CENTRIFUGO_WS_URL"] == settings["CENTRIFUGO_WS_URL"], name
        assert env["DJANGO_DEBUG"] == "false", name
    origins = services["centrifugo"]["environment"]["CENTRIFUGO_CLIENT_ALLOWED_ORIGINS"]
    assert origins == settings["CENTRIFUGO_ALLOWED_ORIGINS"]
    assert services["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "2"


def test_empty_env_settings_default_to_the_public_address(services: dict) -> None:
    """.env.example leaves the WebSocket URL, the origins, the trusted origins and the proxy
    count empty: the proxy's address, then. The WebSocket URL from PROD_HOST and HTTPS_PORT
    (compose cannot take PUBLIC_BASE_URL apart), the origins PUBLIC_BASE_URL itself."""
    example = env_example()
    assert example["CENTRIFUGO_WS_URL"] == example["CENTRIFUGO_ALLOWED_ORIGINS"] == ""
    assert example["DJANGO_CSRF_TRUSTED_ORIGINS"] == ""
    host, port = example["PROD_HOST"], example["HTTPS_PORT"]
    for name in DJANGO_SERVICES:
        env = services[name]["environment"]
        assert env["DJANGO_ALLOWED_HOSTS"] == (
            f"{host},{example['DJANGO_ALLOWED_HOSTS']},127.0.0.1,web"
        ), name
        assert env["CENTRIFUGO_WS_URL"] == f"wss://{host}:{port}/connection/websocket", name
        assert env["DJANGO_CSRF_TRUSTED_ORIGINS"] == PUBLIC_BASE_URL, name
        assert env["DJANGO_DEBUG"] == "false", name
    origins = services["centrifugo"]["environment"]["CENTRIFUGO_CLIENT_ALLOWED_ORIGINS"]
    assert origins == PUBLIC_BASE_URL
    # Compose's web sits behind the TLS proxy docs/compose.md asks for: one client is the
    # address that proxy saw, not the proxy (whose one address would lock everyone out).
    assert example["TRUSTED_PROXY_COUNT"] == ""
    assert services["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"


# --- secrets only from .env ------------------------------------------------------------------


def test_secrets_come_only_from_env(tmp_path: Path) -> None:
    """What .env holds reaches each container (here a .env with real secrets: one with
    placeholders starts nothing, see the tests below)."""
    env_text = generated_env_text()
    result = load(make_project(tmp_path / "generated", env_text=env_text))
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    example = dict(
        line.split("=", 1) for line in env_text.splitlines() if re.match(r"^[A-Z_]+=", line)
    )
    referenced = set(
        re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text())
    )
    assert referenced <= set(example), f"undocumented: {referenced - set(example)}"
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            # A *_FILE is where a secret is (the proxy's TLS key, mounted from the host).
            if SECRET_NAME.search(key) and key != "<<" and not key.endswith("_FILE"):
                assert "${" in str(value), f"{name}.{key} is written in the file"
    # Every app service reads .env whole; the images get values from it by interpolation.
    for name in DJANGO_SERVICES:
        assert [Path(e["path"]).name for e in services[name]["env_file"]] == [".env"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == example["POSTGRES_PASSWORD"]
    grafana = services["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == example["GRAFANA_ADMIN_PASSWORD"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    centrifugo = services["centrifugo"]["environment"]
    assert centrifugo["CENTRIFUGO_HTTP_API_KEY"] == example["CENTRIFUGO_HTTP_API_KEY"]
    assert (
        centrifugo["CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY"]
        == example["CENTRIFUGO_TOKEN_HMAC_SECRET_KEY"]
    )
    flower = services["flower"]["environment"]
    assert (flower["FLOWER_USER"], flower["FLOWER_PASSWORD"]) == (
        example["FLOWER_USER"],
        example["FLOWER_PASSWORD"],
    )


# --- placeholders start nothing ---------------------------------------------------------------


def test_every_container_holding_a_secret_waits_for_the_secrets_check(services: dict) -> None:
    """The check runs first, checks every secret .env.example ships a placeholder for, and
    nothing that holds one starts before it has passed."""
    checked = services["check-secrets"]["command"]
    assert checked[:3] == ["python", "-m", "core.secrets"]
    assert services["check-secrets"]["restart"] == "no"
    placeholders = {name for name, value in env_example().items() if value == PLACEHOLDER}
    # Only seed_demo uses DEMO_PASSWORD, and it refuses a placeholder itself.
    assert placeholders - {"DEMO_PASSWORD"} == set(checked[3:])
    for name, service in services.items():
        env = service.get("environment") or {}
        holds = service.get("env_file") or any(SECRET_NAME.search(key) for key in env)
        if holds and name != "check-secrets":
            assert depends_on_completed(services, name, "check-secrets"), name


def test_the_secrets_check_refuses_env_example_placeholders_naming_each(services: dict) -> None:
    result = run_in(services["check-secrets"], services["check-secrets"]["command"])
    assert result.returncode == 1
    for name in services["check-secrets"]["command"][3:]:
        assert f"{name} must be set to a real secret" in result.stderr, name


def test_the_secrets_check_passes_generated_secrets(tmp_path: Path) -> None:
    result = load(make_project(tmp_path / "generated", env_text=generated_env_text()))
    assert result.returncode == 0, result.stderr
    service = json.loads(result.stdout)["services"]["check-secrets"]
    checked = run_in(service, service["command"])
    assert checked.returncode == 0, checked.stderr


def test_the_app_refuses_to_start_on_env_example_placeholders(services: dict) -> None:
    """Even past the check (a container started on its own): the settings refuse."""
    result = run_in(services["web"], ["python", "manage.py", "check"])
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set to a real secret" in result.stderr


def test_the_web_settings_pass_check_deploy(tmp_path: Path) -> None:
    """Django's deployment checklist, with the web container's settings and real secrets:
    no warning (the silenced ones have their reasons in settings/security.py)."""
    result = load(make_project(tmp_path / "generated", env_text=generated_env_text()))
    assert result.returncode == 0, result.stderr
    web = json.loads(result.stdout)["services"]["web"]
    assert web["environment"]["DJANGO_DEBUG"] == "false"
    checked = run_in(web, ["python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_flower_starts_through_the_launcher_that_refuses_placeholders(services: dict) -> None:
    """Its password is checked before Flower starts, and never put on its command line."""
    flower = services["flower"]
    assert flower["command"][:3] == ["python", "-m", "launchers.flower"]
    assert not any("basic-auth" in word for word in flower["command"])
    assert depends_on_completed(services, "flower", "check-secrets")


# --- jupyter: the reports and the statistics, nothing else ---------------------------------


def test_jupyter_holds_no_secret_and_no_database_and_reads_the_reports_only(tmp_path) -> None:
    """No .env, no secret of the platform (the database password, the secret key...) anywhere in
    its configuration, no database, Redis or SMTP address; the reports volume read-only; a
    network where web is the one other service, and web's /api/stats/ with STATS_READ_TOKEN."""
    env_text = generated_env_text()
    result = load(make_project(tmp_path / "generated", env_text=env_text))
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    jupyter = services["jupyter"]
    example = dict(
        line.split("=", 1) for line in env_text.splitlines() if re.match(r"^[A-Z_]+=", line)
    )

    assert not jupyter.get("env_file")
    assert jupyter["environment"] == {
        "JUPYTER_TOKEN": example["JUPYTER_TOKEN"],
        "REPORTS_DIR": "/app/reports",
        "PLATFORM_STATS_URL": "http://web:8000/api/stats/",
        "PLATFORM_STATS_TOKEN": example["STATS_READ_TOKEN"],
    }
    generated = {name for name in env_example() if env_example()[name] == PLACEHOLDER}
    assert {"DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "METRICS_BEARER_TOKEN"} <= generated
    whole = json.dumps(jupyter)
    for name in generated - {"JUPYTER_TOKEN", "STATS_READ_TOKEN"}:
        assert example[name] not in whole, f"jupyter holds {name}"
    assert "postgres://" not in whole and "redis://" not in whole

    mounts = {mount["target"]: mount for mount in jupyter["volumes"]}
    assert set(mounts) == {"/app/notebooks", "/app/reports"}
    assert mounts["/app/reports"]["type"] == "volume"
    assert mounts["/app/reports"]["source"] == "reports"
    assert mounts["/app/reports"]["read_only"] is True
    assert mounts["/app/notebooks"]["type"] == "bind"  # edits land in the repository

    assert set(jupyter["networks"]) == {"notebooks"}
    on_its_network = {name for name, s in services.items() if "notebooks" in s.get("networks", {})}
    assert on_its_network == {"jupyter", "web"}
    assert "default" in services["web"]["networks"]  # where everything else reaches web
    stats = urlsplit(jupyter["environment"]["PLATFORM_STATS_URL"])
    assert stats.port in listening_ports("web", services["web"])
    assert resolve(stats.path).url_name == "stats"
    assert depends_on_completed(services, "jupyter", "check-secrets")


# A notebook's first cell, in short: find the latest report and read its manifest.
READ_REPORT = """
from notebooks.analysis import reading
report = reading.resolve_report_dir()
print(report.name, reading.load_manifest(report)["generated_at"])
"""


def test_the_notebooks_read_the_reports_with_jupyters_environment_alone(
    tmp_path: Path, services: dict
) -> None:
    """What its kernels run, with what the container has: no secret, no DJANGO_DEBUG, no .env."""
    reports = tmp_path / "reports"
    report = reports / "20250101T000000Z"
    report.mkdir(parents=True)
    (report / "manifest.json").write_text(json.dumps({"generated_at": "2025-01-01T00:00:00Z"}))
    (reports / "latest").symlink_to(report.name)
    jupyter = {**services["jupyter"]}
    jupyter["environment"] = {**jupyter["environment"], "REPORTS_DIR": str(reports)}
    result = run_in(jupyter, ["python", "-c", READ_REPORT])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["20250101T000000Z", "2025-01-01T00:00:00Z"]
