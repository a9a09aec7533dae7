"""Everything docker-compose.yml names exists in the repository and fits together: each
bind-mounted file or folder, each command's module, management command or script, the
third-party services' config files, and the image the app services build (its Dockerfile and
the static folders collectstatic must find in it). Helpers: tests/support.py."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path, PurePosixPath

import yaml

from tests.support import (
    APP_SERVICES,
    ROOT,
    container_file,
    repo_path,
)

# The fixtures project_dir, config and services are in tests/conftest.py (one load a module).


def test_bind_mounts_are_files_and_folders_of_the_repository(project_dir: Path, services) -> None:
    mounted = 0
    for name, service in services.items():
        for mount in service.get("volumes", []):
            if mount["type"] != "bind":
                continue
            if mount.get("bind", {}).get("create_host_path") is False:
                continue  # the proxy's certificate and key: the host's (test_compose_proxy.py)
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
    assert prometheus_yml == ROOT / "monitoring/prometheus/prometheus.yml"
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
    assert not docker_ignores(PurePosixPath("monitoring/static"), patterns)
