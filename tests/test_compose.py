"""docker-compose.yml, checked without a Docker engine (none runs on this machine or in CI).

1. A real Compose implementation loads it: compose-go, the Compose Specification's reference
   library that docker compose itself is built on, through tests/compose_config (LoadProject, as
   `docker compose config`): schema, `.env` interpolation, normalization, consistency.
2. Everything the file names exists in the repository and fits together: each command's module,
   script or config file, each bind-mounted file or folder, each port a service listens on (and
   that Prometheus scrapes, and that Grafana's datasource and the app's settings point at),
   each health check's port, each depends_on condition's target.

The project folder the loader sees is a temporary one that links to the repository's files and
holds a `.env` copied from `.env.example` (with the PUBLIC_BASE_URL docs/compose.md's Start block
says to set), so a developer's own `.env` plays no part. Profiles are off unless a test turns
one on (COMPOSE_PROFILES, as docker compose reads it).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

import testing

ROOT = Path(__file__).resolve().parent.parent
LOADER = ROOT / ".tools" / "bin" / "compose-config"
# One worker service per group of settings.WORKER_GROUPS.
WORKERS = {"worker-live", "worker-email", "worker-background", "worker-reports"}
APP_SERVICES = {
    "check-secrets",
    "migrate",
    "alertmanager-config",
    "web",
    "beat",
    "flower",
    "jupyter",
} | WORKERS
SERVICES = APP_SERVICES | {
    "postgres",
    "redis",
    "centrifugo",
    "centrifugo-lb",
    "prometheus",
    "alertmanager",
    "grafana",
    "mailpit",
}
# Ports the third-party images listen on by default (the app's come from their commands).
IMAGE_DEFAULT_PORTS = {
    "postgres": {5432},
    "redis": {6379},
    "prometheus": {9090},
    "alertmanager": {9093},
    "grafana": {3000},
    "mailpit": {1025, 8025},
}
# What `--profile scale` adds: a second Centrifugo node behind centrifugo-lb.
SCALE_SERVICES = {"centrifugo-2"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY|TOKEN|BASIC_AUTH")
# .env.example's placeholder for what scripts/setup.sh generates.
PLACEHOLDER = "change-me"
# The https address users reach (.env.example leaves it empty: compose refuses to start then).
PUBLIC_BASE_URL = "https://chat.example.com"


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))


def example_env_text(public_base_url: str = PUBLIC_BASE_URL) -> str:
    """`.env.example` with PUBLIC_BASE_URL set, as docs/compose.md's Start block says."""
    return re.sub(
        r"^PUBLIC_BASE_URL=.*$",
        f"PUBLIC_BASE_URL={public_base_url}",
        (ROOT / ".env.example").read_text(),
        flags=re.M,
    )


def generated_env_text() -> str:
    """`.env.example` as scripts/setup.sh fills it (random secrets), behind an https proxy."""
    return re.sub(
        rf"^([A-Z_]+)={PLACEHOLDER}$",
        lambda m: f"{m[1]}={secrets.token_urlsafe(48)}",
        example_env_text(),
        flags=re.M,
    )


def make_project(folder: Path, compose_text: str | None = None, env_text: str | None = None):
    """A project folder: links to every top-level entry of the repository, its own files."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name not in (".env", "docker-compose.yml", ".git"):
            (folder / entry.name).symlink_to(entry)
    (folder / "docker-compose.yml").write_text(
        compose_text if compose_text is not None else (ROOT / "docker-compose.yml").read_text()
    )
    (folder / ".env").write_text(env_text if env_text is not None else example_env_text())
    return folder


def load(folder: Path, profiles: str = "") -> subprocess.CompletedProcess[str]:
    """The project as `docker compose [--profile P] config` resolves it (profiles: "a,b")."""
    if not LOADER.exists():
        pytest.fail(f"{LOADER} is missing: run scripts/setup.sh --test (builds it with Go)")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder)}  # nothing from the caller's environment
    if profiles:
        env["COMPOSE_PROFILES"] = profiles
    return subprocess.run(
        [str(LOADER), str(folder)], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("compose") / "chatplatform")


@pytest.fixture(scope="module")
def config(project_dir: Path) -> dict:
    result = load(project_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def services(config: dict) -> dict[str, dict]:
    return config["services"]


def repo_path(project_dir: Path, source: str) -> Path:
    """A bind mount's source (resolved inside the temporary project) as a repository path."""
    return ROOT / Path(source).relative_to(project_dir)


def container_file(service: dict, project_dir: Path, path: str) -> Path | None:
    """Which repository file a path inside the container is, through the service's bind mounts,
    or through the image (the Dockerfile copies the repository to /app)."""
    best = None
    for mount in service.get("volumes", []):
        target = mount["target"]
        inside = path == target or path.startswith(target + "/")
        if mount["type"] == "bind" and inside and (best is None or len(target) > len(best[0])):
            best = (target, repo_path(project_dir, mount["source"]))
    if best:
        return best[1] / path[len(best[0]) :].lstrip("/")
    if "build" in service and path.startswith("/app/"):
        return ROOT / path[len("/app/") :]
    return None


def listening_ports(name: str, service: dict) -> set[int]:
    """Ports a service listens on inside its container, from its command or environment
    (HAProxy's: the `bind` lines of centrifugo/haproxy.cfg take LB_*_BIND)."""
    ports = set(IMAGE_DEFAULT_PORTS.get(name, set()))
    command = " ".join(service.get("command") or [])
    ports |= {int(p) for p in re.findall(r"--bind[= ]\S*:(\d+)", command)}
    ports |= {int(p) for p in re.findall(r"--(?:metrics-)?port[= ](\d+)", command)}
    environment = service.get("environment") or {}
    for variable in ("CENTRIFUGO_HTTP_SERVER_PORT", "CENTRIFUGO_HTTP_SERVER_INTERNAL_PORT"):
        if variable in environment:
            ports.add(int(environment[variable]))
    ports |= {int(v.rsplit(":", 1)[1]) for k, v in environment.items() if k.endswith("_BIND")}
    return ports


def health_check_ports(check: list[str]) -> set[int]:
    """Ports a health check asks on loopback: in http:// URLs, or through bash's /dev/tcp."""
    text = " ".join(check)
    ports = {urlsplit(url).port for url in re.findall(r"http://[^'\" ]+", text)}
    return ports | {int(p) for p in re.findall(r"/dev/tcp/127\.0\.0\.1/(\d+)", text)}


# --- the reference loader --------------------------------------------------------------------


def test_the_reference_loader_accepts_the_file(services: dict) -> None:
    assert set(services) == SERVICES


def test_each_worker_group_is_a_service_started_from_the_declaration(services: dict) -> None:
    """Queues, processes and prefetch come from settings.WORKER_GROUPS, never the command."""
    from django.conf import settings

    assert {f"worker-{group}" for group in settings.WORKER_GROUPS} == WORKERS
    for name in WORKERS:
        command = services[name]["command"]
        assert command[:4] == ["python", "-m", "chatplatform.workers", name.removeprefix("worker-")]
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
    for name in APP_SERVICES:
        assert services[name]["environment"]["PUBLIC_BASE_URL"] == PUBLIC_BASE_URL, name


# --- images, order, health -------------------------------------------------------------------


def test_third_party_images_are_pinned_and_the_app_is_built_here(services: dict) -> None:
    for name, service in services.items():
        if name in APP_SERVICES:
            assert service["build"]["context"].endswith("chatplatform"), name
            assert Path(service["build"]["context"], service["build"]["dockerfile"]).is_file()
            continue
        image, _, tag = service["image"].rpartition(":")
        assert image and re.match(r"^v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$", tag), (
            f"{name}: unpinned {service['image']}"
        )
    assert services["centrifugo"]["image"] == "centrifugo/centrifugo:v6.9.1"
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
        if name in ("check-secrets", "migrate", "alertmanager-config", "beat"):
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


# --- everything named exists in the repository ----------------------------------------------


def test_bind_mounts_are_files_and_folders_of_the_repository(project_dir: Path, services) -> None:
    mounted = 0
    for name, service in services.items():
        for mount in service.get("volumes", []):
            if mount["type"] != "bind":
                continue
            source = repo_path(project_dir, mount["source"])
            assert source.exists(), f"{name} mounts {source}, which is not in the repository"
            assert mount.get("read_only") or name == "jupyter", f"{name} can write {source}"
            mounted += 1
    assert mounted >= 6


def test_app_commands_name_real_modules_and_commands(project_dir: Path, services: dict) -> None:
    from django.core.management import get_commands

    from chatplatform.celery import app as celery_app

    for name in APP_SERVICES:
        words = " ".join(services[name]["command"]).split()
        if "manage.py" in words:
            assert (ROOT / "manage.py").is_file()
            assert words[words.index("manage.py") + 1] in get_commands()
        if "-A" in words:
            assert words[words.index("-A") + 1] == "chatplatform" == celery_app.main
        for module, attr in re.findall(r"\b([a-z_]+(?:\.[a-z_]+)+):([a-z_]+)\b", " ".join(words)):
            imported = __import__(module, fromlist=[attr])
            assert callable(getattr(imported, attr)), f"{name}: {module}:{attr}"
        for word in words:
            for path in re.findall(r"(/app/[\w./-]+)", word):
                found = container_file(services[name], project_dir, path)
                assert found is not None and found.exists(), f"{name}: {path}"
    assert "chatplatform.wsgi:application" in " ".join(services["web"]["command"])
    assert "lab" in services["jupyter"]["command"]


def test_third_party_config_files_are_the_repositorys(project_dir: Path, services: dict) -> None:
    centrifugo = services["centrifugo"]
    path = centrifugo["command"][centrifugo["command"].index("--config") + 1]
    config_file = container_file(centrifugo, project_dir, path)
    assert config_file == ROOT / "centrifugo" / "config.json"
    json.loads(config_file.read_text())

    balancer = services["centrifugo-lb"]
    path = balancer["command"][balancer["command"].index("-f") + 1]
    assert container_file(balancer, project_dir, path) == ROOT / "centrifugo" / "haproxy.cfg"

    prometheus = services["prometheus"]
    flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    prometheus_yml = container_file(prometheus, project_dir, flag.split("=", 1)[1])
    assert prometheus_yml == ROOT / "prometheus.yml"
    scrape = yaml.safe_load(prometheus_yml.read_text())
    config_dir = str(Path(flag.split("=", 1)[1]).parent)
    for rule_file in scrape["rule_files"]:  # relative to the config file, as Prometheus reads it
        found = container_file(prometheus, project_dir, f"{config_dir}/{rule_file}")
        assert found is not None and found.is_file(), rule_file

    grafana = services["grafana"]
    provisioning = container_file(grafana, project_dir, "/etc/grafana/provisioning")
    providers = yaml.safe_load((provisioning / "dashboards" / "chatplatform.yml").read_text())
    for provider in providers["providers"]:
        folder = container_file(grafana, project_dir, provider["options"]["path"])
        assert folder is not None and sorted(folder.glob("*.json")), provider["options"]["path"]


def test_the_dockerfile_builds_from_the_repository() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for source in sources.split():
            assert source == "." or (ROOT / source).exists(), f"COPY {source}"
    assert "pip install -c constraints.txt ." in text and "collectstatic" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "var"} <= set(ignored)


def docker_ignores(relative: PurePosixPath, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `relative` (or a folder above it) out of the build context
    (Docker matches each pattern against the path and every parent folder of it)."""
    for pattern in patterns:
        pattern = pattern.strip("/")
        for n in range(1, len(relative.parts) + 1):
            prefix = PurePosixPath(*relative.parts[:n])
            if fnmatch.fnmatchcase(str(prefix), pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(prefix.name, pattern[3:])
            ):
                return True
    return False


def test_the_image_holds_every_static_folder_the_settings_serve() -> None:
    """collectstatic in the image finds each STATICFILES_DIRS folder: from the build context, or
    (node_modules is ignored there) copied from the npm stage, which installs its package from
    package.json. A folder missing would 404 its files (uPlot: every chart fails to draw)."""
    from django.conf import settings

    text = (ROOT / "Dockerfile").read_text()
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = dict(re.findall(r"^COPY --from=js /build/(\S+) (\S+)$", text, re.M))
    npm = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert settings.STATICFILES_DIRS
    for entry in settings.STATICFILES_DIRS:
        folder = Path(entry[1] if isinstance(entry, tuple) else entry)
        relative = PurePosixPath(folder.relative_to(ROOT).as_posix())
        if not docker_ignores(relative, patterns):
            continue  # COPY . . brings it
        assert copied.get(str(relative)) == str(relative), f"the image lacks {relative}"
        assert relative.parts[0] == "node_modules" and relative.parts[1] in npm, relative
    # The matcher itself: what it must and must not count as ignored.
    assert docker_ignores(PurePosixPath("node_modules/uplot/dist"), patterns)
    assert docker_ignores(PurePosixPath("chats/__pycache__/x.pyc"), patterns)
    assert not docker_ignores(PurePosixPath("dashboards/static"), patterns)


# --- ports and addresses fit together --------------------------------------------------------


def test_published_ports_are_local_and_the_ones_services_listen_on(services: dict) -> None:
    defaults = env_example()
    published = {
        "web": "WEB_PORT",
        "flower": "FLOWER_PORT",
        "centrifugo-lb": "CENTRIFUGO_PORT",
        "prometheus": "PROMETHEUS_PORT",
        "grafana": "GRAFANA_PORT",
        "mailpit": "SMTP_WEB_PORT",
        "jupyter": "JUPYTER_PORT",
    }
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes beyond this machine"
            assert port["target"] in listening_ports(name, service), f"{name}: {port}"
            assert port["published"] == defaults[published[name]], f"{name}: {port}"
    assert set(published) == {name for name, s in services.items() if s.get("ports")}


def test_prometheus_and_grafana_and_the_app_point_at_real_services(services: dict) -> None:
    def reachable(url_or_address: str) -> None:
        parts = urlsplit(url_or_address if "//" in url_or_address else f"//{url_or_address}")
        assert parts.hostname in services, url_or_address
        port = parts.port or {"http": 80}.get(parts.scheme)
        assert port in listening_ports(parts.hostname, services[parts.hostname]), url_or_address

    scrape = yaml.safe_load((ROOT / "prometheus.yml").read_text())
    targets = [
        target
        for job in scrape["scrape_configs"]
        for group in job.get("static_configs", [])
        for target in group["targets"]
        if not target.startswith("localhost:")
    ]
    assert sorted(targets) == [
        "alertmanager:9093",
        "centrifugo-lb:8404",
        "centrifugo:8002",
        "flower:5555",
        "web:8000",
    ]
    # Alerts go to the Alertmanager service.
    targets += [
        target
        for manager in scrape["alerting"]["alertmanagers"]
        for group in manager["static_configs"]
        for target in group["targets"]
    ]
    # The worker replicas are found by DNS: one name per worker service, on its metrics port.
    for sd in next(j for j in scrape["scrape_configs"] if j["job_name"] == "celery-workers")[
        "dns_sd_configs"
    ]:
        assert set(sd["names"]) == WORKERS
        targets += [f"{name}:{sd['port']}" for name in sd["names"]]
    for target in targets:
        reachable(target)

    datasources = yaml.safe_load(
        (ROOT / "dashboards/provisioning/datasources/prometheus.yml").read_text()
    )
    for source in datasources["datasources"]:
        reachable(source["url"])

    for name in APP_SERVICES:
        env = services[name]["environment"]
        reachable(env["DATABASE_URL"].replace("postgres://", "http://"))
        reachable(env["REDIS_URL"].replace("redis://", "http://"))
        reachable(env["CENTRIFUGO_API_URL"])
        reachable(f"{env['EMAIL_HOST']}:{env['EMAIL_PORT']}")
        assert "web" in env["DJANGO_ALLOWED_HOSTS"].split(",")  # Prometheus asks for Host: web
    # The browser's WebSocket goes to the port the balancer publishes.
    ws = urlsplit(services["web"]["environment"]["CENTRIFUGO_WS_URL"])
    assert str(ws.port) == services["centrifugo-lb"]["ports"][0]["published"]


def test_alertmanager_reads_the_config_the_one_shot_renders_from_env(
    services: dict, tmp_path: Path
) -> None:
    """The one-shot writes into the volume Alertmanager reads its config from, before it starts;
    what it writes from .env passes amtool, emailing mailpit."""
    render, manager = services["alertmanager-config"], services["alertmanager"]
    assert depends_on_completed(services, "alertmanager", "alertmanager-config")
    output = next(w for w in render["command"] if w.endswith("alertmanager.yml"))
    [written] = [m for m in render["volumes"] if output.startswith(m["target"] + "/")]
    config_arg = next(a for a in manager["command"] if a.startswith("--config.file="))
    [read] = [m for m in manager["volumes"] if m["source"] == written["source"]]
    assert config_arg == f"--config.file={read['target']}{output.removeprefix(written['target'])}"
    assert read.get("read_only")
    # Run as the container would with setup.sh's .env (the settings it loads refuse placeholders).
    generated = load(make_project(tmp_path / "generated", env_text=generated_env_text()))
    assert generated.returncode == 0, generated.stderr
    render = json.loads(generated.stdout)["services"]["alertmanager-config"]
    command = [tmp_path / "am.yml" if w == output else w for w in render["command"]]
    result = run_in(render, [str(w) for w in command])
    assert result.returncode == 0, result.stderr
    amtool = shutil.which("amtool") or "/usr/bin/amtool"
    check = subprocess.run([amtool, "check-config", str(tmp_path / "am.yml")], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    email = yaml.safe_load((tmp_path / "am.yml").read_text())["receivers"][0]["email_configs"][0]
    assert email["smarthost"] == "mailpit:1025"


# --- what .env decides, and what it cannot ---------------------------------------------------


def test_env_sets_hosts_websocket_url_and_origins_but_never_debug(tmp_path: Path) -> None:
    """`environment:` wins over env_file, so .env reaches these only through ${interpolation};
    DJANGO_DEBUG stays off (.env.example's `true` is for runserver) and `web` stays allowed."""
    example = (ROOT / ".env.example").read_text()
    assert "\nDJANGO_DEBUG=true\n" in example  # the value compose must not follow
    settings = {
        "DJANGO_ALLOWED_HOSTS": "chat.example.com",
        "CENTRIFUGO_WS_URL": "wss://chat.example.com/connection/websocket",
        "CENTRIFUGO_ALLOWED_ORIGINS": "https://chat.example.com",
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
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DJANGO_ALLOWED_HOSTS"] == "chat.example.com,web", name
        assert env["CENTRIFUGO_WS_URL"] == settings["CENTRIFUGO_WS_URL"], name
        assert env["DJANGO_DEBUG"] == "false", name
    origins = services["centrifugo"]["environment"]["CENTRIFUGO_CLIENT_ALLOWED_ORIGINS"]
    assert origins == settings["CENTRIFUGO_ALLOWED_ORIGINS"]
    assert services["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "2"


def test_empty_env_settings_default_to_this_machine(services: dict) -> None:
    """.env.example leaves the WebSocket URL, the origins and the proxy count empty: the
    published ports and the one TLS proxy, then."""
    example = env_example()
    assert example["CENTRIFUGO_WS_URL"] == example["CENTRIFUGO_ALLOWED_ORIGINS"] == ""
    web, centrifugo_port = example["WEB_PORT"], example["CENTRIFUGO_PORT"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DJANGO_ALLOWED_HOSTS"] == f"{example['DJANGO_ALLOWED_HOSTS']},web", name
        assert env["CENTRIFUGO_WS_URL"] == (
            f"ws://127.0.0.1:{centrifugo_port}/connection/websocket"
        ), name
        assert env["DJANGO_DEBUG"] == "false", name
    assert services["centrifugo"]["environment"]["CENTRIFUGO_CLIENT_ALLOWED_ORIGINS"] == (
        f"http://localhost:{web} http://127.0.0.1:{web}"
    )
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
            if SECRET_NAME.search(key) and key != "<<":
                assert "${" in str(value), f"{name}.{key} is written in the file"
    # Every app service reads .env whole; the images get values from it by interpolation.
    for name in APP_SERVICES:
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


def run_in(service: dict, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """`argv` as the container would run it: its resolved environment (.env included) and
    DJANGO_DEBUG, with this machine's interpreter in place of the image's `python`."""
    env = {**service["environment"], "PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def depends_on_completed(services: dict, name: str, target: str) -> bool:
    """Whether `name` starts only after `target` completed, directly or through others."""
    seen, todo = set(), [name]
    while todo:
        for dep, how in (services[todo.pop()].get("depends_on") or {}).items():
            if dep == target and how["condition"] == "service_completed_successfully":
                return True
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return False


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
    """Even past the check (a container started on its own): settings.py refuses."""
    result = run_in(services["web"], ["python", "manage.py", "check"])
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set to a real secret" in result.stderr


def test_the_web_settings_pass_check_deploy(tmp_path: Path) -> None:
    """Django's deployment checklist, with the web container's settings and real secrets:
    no warning (the silenced ones have their reasons in settings.py)."""
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
    assert flower["command"][:3] == ["python", "-m", "chatplatform.flower"]
    assert not any("basic-auth" in word for word in flower["command"])
    assert depends_on_completed(services, "flower", "check-secrets")


# --- the internal ports and the metrics token -----------------------------------------------


def bind_port(service: dict, variable: str) -> int:
    return int(service["environment"][variable].rsplit(":", 1)[1])


def test_centrifugo_api_metrics_and_health_use_the_unpublished_internal_port(services) -> None:
    """Browsers reach the balancer's WebSocket port only, which forwards to each node's public
    port; the app's API calls go to the balancer's API port, forwarded to each node's internal
    one, which Prometheus and the health check use too. Only the WebSocket port is published."""
    centrifugo, balancer = services["centrifugo"], services["centrifugo-lb"]
    internal = int(centrifugo["environment"]["CENTRIFUGO_HTTP_SERVER_INTERNAL_PORT"])
    public = int(centrifugo["environment"]["CENTRIFUGO_HTTP_SERVER_PORT"])
    assert internal != public
    assert not centrifugo.get("ports")
    assert f"127.0.0.1:{internal}/health" in " ".join(centrifugo["healthcheck"]["test"])
    lb = balancer["environment"]
    for node in ("1", "2"):
        assert (lb[f"LB_NODE_{node}_PORT"], lb[f"LB_NODE_{node}_INTERNAL_PORT"]) == (
            str(public),
            str(internal),
        )
    assert (lb["LB_NODE_1_HOST"], lb["LB_NODE_2_HOST"]) == ("centrifugo", "centrifugo-2")
    websocket = bind_port(balancer, "LB_WEBSOCKET_BIND")
    assert [port["target"] for port in balancer["ports"]] == [websocket]
    api = bind_port(balancer, "LB_API_BIND")
    for name in APP_SERVICES:
        url = urlsplit(services[name]["environment"]["CENTRIFUGO_API_URL"])
        assert (url.hostname, url.port) == ("centrifugo-lb", api), name
    scrape = yaml.safe_load((ROOT / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["centrifugo"]["static_configs"][0]["targets"] == [f"centrifugo:{internal}"]
    [discovered] = jobs["centrifugo"]["dns_sd_configs"]
    assert (discovered["names"], discovered["type"], discovered["port"]) == (
        ["centrifugo-2"],
        "A",
        internal,
    )
    metrics = bind_port(balancer, "LB_METRICS_BIND")
    assert jobs["centrifugo-lb"]["static_configs"][0]["targets"] == [f"centrifugo-lb:{metrics}"]


def test_the_scale_profile_adds_a_second_node_like_the_first(
    project_dir: Path, services: dict
) -> None:
    """`--profile scale`: centrifugo-2, the same service as centrifugo (image, config, secrets,
    Redis engine, health check), and nothing else changes; without it, one node. The names the
    balancer and Prometheus look up for node 2 are that service's."""
    result = load(project_dir, profiles="scale")
    assert result.returncode == 0, result.stderr
    scaled = json.loads(result.stdout)["services"]
    assert set(scaled) == SERVICES | SCALE_SERVICES
    assert not SCALE_SERVICES & set(services)
    node_1, node_2 = scaled["centrifugo"], scaled["centrifugo-2"]
    assert node_2.pop("profiles") == ["scale"]
    assert node_2 == node_1
    for name in SERVICES:
        assert scaled[name] == services[name], name
    engine = node_1["environment"]
    assert engine["CENTRIFUGO_ENGINE_TYPE"] == "redis"
    address = urlsplit(engine["CENTRIFUGO_ENGINE_REDIS_ADDRESS"])
    assert (address.scheme, address.hostname, address.port) == ("redis", "redis", 6379)
    # Its own database: not the broker's or the cache's (settings.py: REDIS_URL's 0 and 1).
    broker = urlsplit(scaled["web"]["environment"]["REDIS_URL"])
    assert (address.hostname, address.port) == (broker.hostname, broker.port)
    assert address.path not in (broker.path, "/1", "", "/")
    assert node_1["depends_on"]["redis"]["condition"] == "service_healthy"

    lb = scaled["centrifugo-lb"]["environment"]
    assert lb["LB_NODE_2_HOST"] in scaled
    scrape = yaml.safe_load((ROOT / "prometheus.yml").read_text())
    job = next(j for j in scrape["scrape_configs"] if j["job_name"] == "centrifugo")
    for sd in job["dns_sd_configs"]:
        for name in sd["names"]:
            assert name in SCALE_SERVICES, name  # never a name that is always there
            assert sd["port"] in listening_ports(name, scaled[name])


def test_every_node_is_on_the_redis_engine_whatever_env_says(tmp_path: Path) -> None:
    """.env's CENTRIFUGO_ENGINE_TYPE is make up's: compose pins redis on every node, since two
    nodes on the memory engine would silently stop sharing publications."""
    assert env_example()["CENTRIFUGO_ENGINE_TYPE"] == ""
    env_text = re.sub(
        r"^CENTRIFUGO_ENGINE_TYPE=.*$",
        "CENTRIFUGO_ENGINE_TYPE=memory",
        example_env_text(),
        flags=re.M,
    )
    assert "CENTRIFUGO_ENGINE_TYPE=memory" in env_text
    result = load(make_project(tmp_path / "memory", env_text=env_text), profiles="scale")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for node in ("centrifugo", "centrifugo-2"):
        assert services[node]["environment"]["CENTRIFUGO_ENGINE_TYPE"] == "redis", node


def test_the_balancer_health_check_passes_against_haproxy_with_compose_env(
    project_dir: Path, services: dict
) -> None:
    """Debian's HAProxy (same branch as the image) with centrifugo/haproxy.cfg and the
    balancer's environment from compose (its ports moved to free loopback ones, no node
    resolving, as before any node is up): it starts, and the container's health check command,
    run by bash as in the image, passes; once HAProxy is gone it fails."""
    balancer = services["centrifugo-lb"]
    env = dict(balancer["environment"])
    moved = {}
    for variable in ("LB_WEBSOCKET_BIND", "LB_API_BIND", "LB_METRICS_BIND"):
        moved[bind_port(balancer, variable)] = testing.free_port()
        env[variable] = f"127.0.0.1:{moved[bind_port(balancer, variable)]}"
    config = container_file(balancer, project_dir, balancer["command"][-1])
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    process = testing.ManagedProcess(
        "compose-haproxy",
        [haproxy, "-db", "-f", str(config)],
        env={"PATH": os.environ["PATH"], **env},
        port=int(env["LB_METRICS_BIND"].rsplit(":", 1)[1]),
    )
    check = balancer["healthcheck"]["test"]
    assert check[:3] == ["CMD", "bash", "-c"]
    command = re.sub(
        r"/dev/tcp/127\.0\.0\.1/(\d+)", lambda m: f"/dev/tcp/127.0.0.1/{moved[int(m[1])]}", check[3]
    )

    def healthy() -> bool:
        run = subprocess.run(["bash", "-c", command], capture_output=True, timeout=10)
        return run.returncode == 0

    with process:
        assert testing.wait_until(healthy, 30, "the balancer's health check to pass")
    assert not healthy()


def test_prometheus_sends_the_metrics_token_from_env(config: dict, services: dict) -> None:
    """prometheus.yml reads the web job's bearer token from the secret compose makes of .env's
    METRICS_BEARER_TOKEN (Prometheus reads no environment variables)."""
    secret = config["secrets"]["metrics_bearer_token"]
    assert secret["environment"] == "METRICS_BEARER_TOKEN"
    assert "METRICS_BEARER_TOKEN" in env_example()
    mounted = [s["source"] for s in services["prometheus"]["secrets"]]
    assert mounted == ["metrics_bearer_token"]
    scrape = yaml.safe_load((ROOT / "prometheus.yml").read_text())
    web = next(j for j in scrape["scrape_configs"] if j["job_name"] == "web")
    assert web["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/run/secrets/metrics_bearer_token",
    }
