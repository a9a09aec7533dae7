"""What the docker-compose.yml tests (tests/test_compose_*.py) share: the services the file
declares, a project folder for compose-go's loader and the loader itself, and where a service's
files, ports and commands are.

The file is checked without a Docker engine (none runs on this machine or in CI): a real Compose
implementation loads it, compose-go, the Compose Specification's reference library that docker
compose itself is built on, through tests/compose_config (LoadProject, as `docker compose
config`), built to .tools/bin/compose-config by scripts/setup.sh --test.

The project folder the loader sees is a temporary one that links to the repository's files and
holds a `.env` copied from `.env.example` (with the PUBLIC_BASE_URL docs/compose.md's Start block
says to set), so a developer's own `.env` plays no part. Profiles are off unless a test turns
one on (COMPOSE_PROFILES, as docker compose reads it). The fixtures of the project as loaded are
in tests/conftest.py, which builds them with the loader here.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

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
    "static",
} | WORKERS
# Those that run Django: .env whole, DEBUG off, the other services' addresses. jupyter runs the
# same image with none of that (no secret of the platform, no database), and static only copies
# the image's static files into the proxy's volume.
DJANGO_SERVICES = APP_SERVICES - {"jupyter", "static"}
SERVICES = APP_SERVICES | {
    "postgres",
    "redis",
    "centrifugo",
    "centrifugo-lb",
    "prometheus",
    "alertmanager",
    "grafana",
    "mailpit",
    "proxy",
    "jaeger",
}
# Ports the third-party images listen on by default (the app's come from their commands).
IMAGE_DEFAULT_PORTS = {
    "postgres": {5432},
    "redis": {6379},
    "prometheus": {9090},
    "alertmanager": {9093},
    "grafana": {3000},
    "mailpit": {1025, 8025},
    # deploy/jaeger/config.yaml's defaults: OTLP over HTTP, the query API.
    "jaeger": {4318, 16686},
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


def tree_without_env(tree: Path) -> Path:
    """The repository at `tree` without `.env`, as the image holds it (.dockerignore keeps it
    out): the settings and manage.py copied (the settings read the `.env` beside their resolved
    path, and Python puts the resolved folder of manage.py first on sys.path), the rest linked."""
    copied = ("chatplatform", "manage.py")
    tree.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in {".env", ".git", "var", "test-artifacts", *copied}:
            (tree / entry.name).symlink_to(entry)
    shutil.copytree(
        ROOT / "chatplatform", tree / "chatplatform", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(ROOT / "manage.py", tree / "manage.py")
    return tree


@functools.cache
def image_tree() -> Path:
    """One `tree_without_env` for the whole test run, removed at its end."""
    folder = Path(tempfile.mkdtemp(prefix="image-tree-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return tree_without_env(folder / "app")


def image_environment() -> dict[str, str]:
    """The variables the Dockerfile's ENV lines set in the image."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return dict(re.findall(r"(\w+)=(\S+)", " ".join(re.findall(r"^ENV (.+)$", text, re.M))))


def run_in(service: dict, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """`argv` as the container would run it: the image's ENV and the service's resolved
    environment (.env included where it reads it) and nothing else, in a tree without this
    repository's `.env`, with this machine's interpreter in place of the image's `python`."""
    env = {
        **image_environment(),
        **service["environment"],
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(image_tree()),
    }
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    return subprocess.run(
        argv, cwd=image_tree(), env=env, capture_output=True, text=True, timeout=120
    )


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


def emitted(done: subprocess.CompletedProcess[str], marker: str) -> dict:
    """The JSON a child process (e.g. a `manage.py shell -c` script) printed after `marker`."""
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(f"{marker} ")]
    assert lines, f"no {marker} line in:\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1].removeprefix(f"{marker} "))


def lib_value(name: str) -> str:
    """A variable of scripts/lib.sh, as the scripts see it."""
    return subprocess.run(
        ["bash", "-c", f'source scripts/lib.sh && printf %s "${name}"'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
