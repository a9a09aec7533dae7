"""scripts/preflight.sh, run for real: setup names what it lacks before it installs anything,
and make up names a taken port before it starts anything.

Each test runs the real scripts in a subprocess, in a small project folder of links to this
tree's scripts and files (scripts/, Procfile, package-lock.json, tests/compose_config...) and,
when the test wants them there, its .venv, .tools and node_modules: what is missing is what the
folder lacks, so the developer's own checkout, .env and installs play no part. An old Go is a
fake `go` on PATH printing go1.19.8 (Debian 12's); a Python without ensurepip is a wrapper of this
one whose `import ensurepip` fails, as Debian's does without python3.11-venv.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.processes import free_port
from tests.support import lib_value

REPO = Path(__file__).resolve().parent.parent
# What make up's ports are read from (scripts/preflight.sh, up_ports): each set to a free port in
# the tests, so the developer's running platform does not count.
PORT_VARIABLES = (
    "WEB_PORT",
    "CENTRIFUGO_PORT",
    "CENTRIFUGO_INTERNAL_PORT",
    "FLOWER_PORT",
    "PROMETHEUS_PORT",
    "ALERTMANAGER_PORT",
    "EMAIL_PORT",
    "SMTP_WEB_PORT",
    "JAEGER_OTLP_PORT",
    "JAEGER_QUERY_PORT",
)
# What the scripts read that would change what a test sees.
SCRIPT_VARIABLES = (
    *PORT_VARIABLES,
    "WORKER_METRICS_PORT",
    "REDIS_URL",
    "SETUP_PYTHON",
    "ALLOW_UNSUPPORTED_OS",
    "KEEP_HOST_SERVICES",
    "PREFLIGHT_OS_RELEASE",
    "OTEL_SDK_DISABLED",
)


def make_project(folder: Path, installed: tuple[str, ...] = ()) -> Path:
    """A project folder whose scripts are this tree's, with only `installed` of .venv, .tools and
    node_modules (linked). Scripts are linked one by one, so a test may replace one."""
    (folder / "scripts").mkdir(parents=True)
    for script in (REPO / "scripts").iterdir():
        (folder / "scripts" / script.name).symlink_to(script)
    names = ("Procfile", "package.json", "package-lock.json", "pyproject.toml", "constraints.txt")
    for name in (*names, ".env.example", *installed):
        (folder / name).symlink_to(REPO / name)
    (folder / "tests").mkdir()
    (folder / "tests" / "compose_config").symlink_to(REPO / "tests" / "compose_config")
    return folder


def script_env(**values: str) -> dict[str, str]:
    """The caller's environment without the scripts' own variables, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_VARIABLES}
    return {**env, **values}


def run(project: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *argv], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def old_go(tmp_path: Path) -> str:
    """A PATH whose first `go` is Debian 12's Go 1.19 (as far as anyone asks it)."""
    folder = tmp_path / "old-go"
    folder.mkdir()
    go = folder / "go"
    go.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  version) echo "go version go1.19.8 linux/amd64" ;;\n'
        '  env) shift; for name in "$@"; do\n'
        '    case "$name" in GOVERSION) echo go1.19.8 ;; GOMODCACHE) echo "$HOME/go/pkg/mod" ;;\n'
        '      GOCACHE) echo "$HOME/.cache/go-build" ;; *) echo ;; esac; done ;;\n'
        "esac\n"
    )
    go.chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"


@pytest.fixture
def python_without_ensurepip(tmp_path: Path) -> Path:
    """This Python, except that `import ensurepip` fails as on Debian without python3.11-venv."""
    shadow = tmp_path / "no-ensurepip" / "ensurepip"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'ensurepip'\", name='ensurepip')\n"
    )
    wrapper = tmp_path / "python3"
    real = REPO / ".venv" / "bin" / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={shadow.parent} exec {real} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket listening on a free port of 127.0.0.1: what a port taken by another program is."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def free_ports_env(**taken: int) -> dict[str, str]:
    """Every port of make up on a port free right now (Redis: nobody there), `taken` apart."""
    values = {name: str(free_port()) for name in PORT_VARIABLES}
    values["WORKER_METRICS_PORT"] = str(free_block(len(worker_groups())))
    values["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    values.update({name: str(port) for name, port in taken.items()})
    return script_env(**values)


def free_block(size: int) -> int:
    """The first of `size` consecutive ports free right now."""
    for _ in range(50):
        base = free_port()
        if base + size <= 65535 and all(port_free(base + i) for i in range(size)):
            return base
    raise RuntimeError(f"no {size} consecutive free ports")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def worker_groups() -> list[str]:
    """The worker groups of the Procfile, in its order (what the script reads)."""
    procfile = (REPO / "Procfile").read_text()
    return re.findall(r"^worker-[a-z]+:.*launchers\.workers ([a-z]+)", procfile, re.M)


# --- setup: everything there ------------------------------------------------------------------


def test_everything_present_passes_quietly():
    """On this machine, set up by make test's first step, nothing is missing: no word, no
    package to install, fast."""
    result = run(REPO, "scripts/preflight.sh", "setup", "--test", env=script_env())
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_centrifugo_go_version_is_its_go_mod():
    """lib.sh's CENTRIFUGO_GO_VERSION, what the Go check asks for, is the `go` line of the pinned
    Centrifugo's go.mod (checked when Go's module cache holds it: after the first build)."""
    if not shutil.which("go"):
        pytest.skip("no Go here")
    cache = subprocess.run(
        ["go", "env", "GOMODCACHE"], cwd="/", capture_output=True, text=True, check=True
    ).stdout.strip()
    version = lib_value("CENTRIFUGO_VERSION")
    versions = Path(cache, "cache/download/github.com/centrifugal/centrifugo/v6/@v")
    go_mod = versions / f"v{version}.mod"
    if not go_mod.exists():
        pytest.skip(f"Centrifugo v{version}'s go.mod is not in Go's module cache")
    [wanted] = re.findall(r"^go (\S+)$", go_mod.read_text(), re.M)
    assert lib_value("CENTRIFUGO_GO_VERSION") == wanted


def test_jaeger_go_version_is_its_go_mod():
    """lib.sh's JAEGER_GO_VERSION is the `go` line of the pinned Jaeger module's go.mod (checked
    when Go's module cache holds it: after the first build)."""
    if not shutil.which("go"):
        pytest.skip("no Go here")
    cache = subprocess.run(
        ["go", "env", "GOMODCACHE"], cwd="/", capture_output=True, text=True, check=True
    ).stdout.strip()
    version = lib_value("JAEGER_VERSION")
    go_mod = Path(cache, f"cache/download/github.com/jaegertracing/jaeger/@v/v{version}.mod")
    if not go_mod.exists():
        pytest.skip(f"Jaeger's module v{version} is not in Go's module cache")
    [wanted] = re.findall(r"^go (\S+)$", go_mod.read_text(), re.M)
    assert lib_value("JAEGER_GO_VERSION") == wanted


# --- setup: something missing -----------------------------------------------------------------


def test_old_go_named_with_how_to_get_a_newer_one(tmp_path: Path, old_go: str):
    """Centrifugo is not built yet and `go` is Debian 12's 1.19: setup stops before installing
    anything, naming the Go it needs, the one it found, and two ways to a newer one."""
    project = make_project(tmp_path / "project", installed=(".venv", "node_modules"))
    result = run(project, "scripts/setup.sh", env=script_env(PATH=old_go))
    assert result.returncode != 0
    wanted = lib_value("CENTRIFUGO_GO_VERSION")
    assert f"Go {wanted} or newer, to build Centrifugo v{lib_value('CENTRIFUGO_VERSION')}" in (
        result.stderr
    )
    assert "found go1.19.8" in result.stderr
    assert "https://go.dev/dl/" in result.stderr
    assert "apt-get install -t bookworm-backports golang-go" in result.stderr
    assert "nothing was installed" in result.stderr
    assert not (project / ".tools").exists()
    assert not (project / ".env").exists()


def test_python_without_ensurepip_named(tmp_path: Path, python_without_ensurepip: Path):
    """A Python that cannot make a virtualenv (no ensurepip) is named, with the package that
    brings it."""
    env = script_env(SETUP_PYTHON=str(python_without_ensurepip))
    result = run(REPO, "scripts/preflight.sh", "python", env=env)
    assert result.returncode != 0
    assert f"{python_without_ensurepip} (3.11) lacks them" in result.stderr
    assert "apt-get install python3.11-venv" in result.stderr


def test_every_failure_listed_in_one_run(
    tmp_path: Path, old_go: str, python_without_ensurepip: Path
):
    """No .venv, a Python without ensurepip and an old Go: one run names both (not one per run),
    and installs nothing."""
    project = make_project(tmp_path / "project", installed=("node_modules",))
    env = script_env(PATH=old_go, SETUP_PYTHON=str(python_without_ensurepip))
    result = run(project, "scripts/setup.sh", "--test", env=env)
    assert result.returncode != 0
    assert "ensurepip" in result.stderr
    assert "found go1.19.8" in result.stderr
    assert "compose-go's loader" in result.stderr  # --test: the tests' Go build is named too
    assert not (project / ".venv").exists()
    assert not (project / ".env").exists()


def test_other_system_stops_unless_allowed(tmp_path: Path):
    """Not Debian: the check says what setup assumes and how to go on anyway."""
    os_release = tmp_path / "os-release"
    os_release.write_text('PRETTY_NAME="Fedora Linux 41"\nID=fedora\nVERSION_ID=41\n')
    env = script_env(PREFLIGHT_OS_RELEASE=str(os_release))
    refused = run(REPO, "scripts/preflight.sh", "os", env=env)
    assert refused.returncode != 0
    assert "Debian 12 (bookworm) or newer: this is Fedora Linux 41" in refused.stderr
    assert "apt-get" in refused.stderr
    assert "ALLOW_UNSUPPORTED_OS=1" in refused.stderr
    allowed = run(REPO, "scripts/preflight.sh", "os", env={**env, "ALLOW_UNSUPPORTED_OS": "1"})
    assert allowed.returncode == 0, allowed.stderr


def test_full_disk_named_with_what_goes_there(tmp_path: Path):
    """pip's cache on a 10 MB filesystem: the check names that filesystem, its free space and
    what setup would write there. (Needs a tmpfs: root with mount rights.)"""
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=10m", "tmpfs", str(small)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        project = make_project(tmp_path / "project", installed=(".tools", "node_modules"))
        env = script_env(PIP_CACHE_DIR=str(small / "pip"))
        env.pop("PIP_NO_CACHE_DIR", None)
        result = run(project, "scripts/preflight.sh", "setup", env=env)
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert result.returncode != 0
    assert re.search(rf"disk space: {small} has \d+ MB free, setup needs 400 MB", result.stderr)
    assert "pip's cache 400 MB" in result.stderr


# --- make up: ports ---------------------------------------------------------------------------


def test_taken_port_named_and_nothing_started(tmp_path: Path, listener: socket.socket):
    """Another program holds WEB_PORT: make up names the variable, the port and who holds it, and
    stops before setup, let alone honcho, runs."""
    port = listener.getsockname()[1]
    project = make_project(tmp_path / "project")
    setup = project / "scripts" / "setup.sh"  # a setup that leaves a mark if it ever runs
    setup.unlink()
    setup.write_text(f"#!/bin/sh\ntouch {project}/setup-ran\nexit 1\n")
    setup.chmod(0o755)
    result = run(project, "scripts/up.sh", env=free_ports_env(WEB_PORT=port))
    assert result.returncode != 0
    assert f"WEB_PORT={port} is taken" in result.stderr
    if shutil.which("ss"):  # who holds it, when ss (iproute2) is there to say
        assert f"WEB_PORT={port} is taken (by pid {os.getpid()}: " in result.stderr
    assert "set WEB_PORT to a free port in .env" in result.stderr
    assert "nothing was started" in result.stderr
    assert not (project / "setup-ran").exists()
    assert "is starting" not in result.stdout


def test_every_port_free_passes_quietly(tmp_path: Path):
    """Nothing on any of make up's ports: no word."""
    project = make_project(tmp_path / "project")
    result = run(project, "scripts/preflight.sh", "up", env=free_ports_env())
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_worker_metrics_port_named_with_its_group(tmp_path: Path):
    """Each worker group's metrics port is WORKER_METRICS_PORT + its index in WORKER_GROUPS, the
    Procfile's order: a taken one is named with its group."""
    from launchers.workers import group_names

    assert worker_groups() == group_names()
    env = free_ports_env()
    last = len(group_names()) - 1
    taken = int(env["WORKER_METRICS_PORT"]) + last
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", taken))
        sock.listen()
        result = run(make_project(tmp_path / "project"), "scripts/preflight.sh", "up", env=env)
    assert result.returncode != 0
    group = group_names()[last]
    named = f"WORKER_METRICS_PORT+{last} (worker-{group}'s metrics)={taken} is taken"
    assert named in result.stderr
    assert "set WORKER_METRICS_PORT to a free port" in result.stderr


def test_jaeger_ports_checked_unless_tracing_is_off(tmp_path: Path, listener: socket.socket):
    """make up runs Jaeger on JAEGER_QUERY_PORT (and JAEGER_OTLP_PORT): a taken one is named,
    unless OTEL_SDK_DISABLED=true, with which make up runs no Jaeger."""
    port = listener.getsockname()[1]
    project = make_project(tmp_path / "project")
    env = free_ports_env(JAEGER_QUERY_PORT=port)
    named = run(project, "scripts/preflight.sh", "up", env=env)
    assert named.returncode != 0
    assert f"JAEGER_QUERY_PORT={port} is taken" in named.stderr
    off = run(project, "scripts/preflight.sh", "up", env={**env, "OTEL_SDK_DISABLED": "true"})
    assert (off.returncode, off.stderr) == (0, "")


def test_same_port_twice_named(tmp_path: Path):
    env = free_ports_env()
    env["FLOWER_PORT"] = env["WEB_PORT"]
    result = run(make_project(tmp_path / "project"), "scripts/preflight.sh", "up", env=env)
    assert result.returncode != 0
    assert f"WEB_PORT and FLOWER_PORT are both port {env['WEB_PORT']}" in result.stderr


def test_ports_command_for_other_scripts(listener: socket.socket):
    """`preflight.sh ports NAME=PORT...`, what make prod calls: only the taken one is named."""
    port = listener.getsockname()[1]
    result = run(
        REPO,
        "scripts/preflight.sh",
        "ports",
        f"HTTPS_PORT={port}",
        f"WEB_PORT={free_port()}",
        "UNUSED_PORT=0",
        env=script_env(),
    )
    assert result.returncode != 0
    assert f"HTTPS_PORT={port} is taken" in result.stderr
    assert "WEB_PORT" not in result.stderr


@pytest.mark.slow
def test_redis_port_held_by_redis_is_used_anything_else_named(
    tmp_path: Path, listener: socket.socket
):
    """make up uses a Redis already answering at REDIS_URL (scripts/run-redis.sh): no complaint.
    Anything else on that port is named."""
    from testing.services import RedisProcess

    project = make_project(tmp_path / "project")
    with RedisProcess() as redis:
        env = {**free_ports_env(), "REDIS_URL": redis.url}
        used = run(project, "scripts/preflight.sh", "up", env=env)
    assert (used.returncode, used.stderr) == (0, "")
    port = listener.getsockname()[1]
    env = {**free_ports_env(), "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    named = run(project, "scripts/preflight.sh", "up", env=env)
    assert named.returncode != 0
    assert f"REDIS_URL's port {port} is taken" in named.stderr
    assert "does not answer as Redis" in named.stderr
