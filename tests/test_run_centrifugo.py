"""scripts/run-centrifugo.sh, the `centrifugo` process of make up, run for real.

It maps the project's CENTRIFUGO_* names to Centrifugo's, drops the project's others, and passes
Centrifugo's own through from the environment or .env (the environment wins). Each test runs the
real script in a temporary project folder (links to the script, lib.sh, the Centrifugo binary and
config, and a .env of its own), so a developer's .env plays no part, on free ports and a Redis
of its own; Centrifugo's behaviour shows what reached it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import testing
from testing.processes import answers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "run-centrifugo.sh"
CENTRIFUGO = ROOT / ".tools" / "bin" / "centrifugo"
API_KEY = "run-centrifugo-test-api-key-of-32-bytes-or-more"
TOKEN_SECRET = "run-centrifugo-test-token-secret-of-32-bytes-or-more"
UNKNOWN = "unknown var in environment"  # what Centrifugo logs for a name it does not know
# The two secrets the script requires, as setup.sh writes them to .env.
SECRETS = f"CENTRIFUGO_HTTP_API_KEY={API_KEY}\nCENTRIFUGO_TOKEN_HMAC_SECRET_KEY={TOKEN_SECRET}\n"


def project_names() -> set[str]:
    """The script's PROJECT_NAMES: what it drops."""
    [body] = re.findall(r"^PROJECT_NAMES=\(([^)]*)\)", SCRIPT.read_text(), re.M)
    return set(body.split())


def centrifugo_names() -> set[str]:
    """Every variable Centrifugo v6 reads (`centrifugo defaultenv`)."""
    out = subprocess.run(
        [str(CENTRIFUGO), "defaultenv"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return set(re.findall(r"^(CENTRIFUGO_[A-Z0-9_]+)=", out, re.M))


def env_example_names() -> set[str]:
    return set(re.findall(r"^(CENTRIFUGO_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def settings_names() -> set[str]:
    text = "".join(p.read_text() for p in (ROOT / "chatplatform" / "settings").glob("*.py"))
    return set(re.findall(r"[\"'](CENTRIFUGO_[A-Z0-9_]+)[\"']", text))


def make_project(folder: Path, env_text: str) -> Path:
    """A project folder where the script finds its own lib.sh, binary, config and this .env."""
    (folder / "scripts").mkdir(parents=True)
    for name in ("run-centrifugo.sh", "lib.sh"):
        (folder / "scripts" / name).symlink_to(ROOT / "scripts" / name)
    for name in (".tools", "centrifugo"):
        (folder / name).symlink_to(ROOT / name)
    (folder / ".env").write_text(env_text)
    return folder


def script(project: Path, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command line of `project`'s run-centrifugo.sh and its environment: only `env` (and
    PATH), so the caller's CENTRIFUGO_* play no part."""
    argv = ["bash", str(project / "scripts" / "run-centrifugo.sh")]
    return argv, {"PATH": os.environ["PATH"], "HOME": str(project), **env}


class ScriptCentrifugo(testing.ManagedProcess):
    """run-centrifugo.sh of `project` (see `script`); ready when Centrifugo's /health answers
    on the CENTRIFUGO_INTERNAL_PORT of `env`."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        internal = f"http://127.0.0.1:{env['CENTRIFUGO_INTERNAL_PORT']}"
        self.api_url = f"{internal}/api"
        argv, full_env = script(project, env)
        super().__init__(
            "run-centrifugo",
            argv,
            env=full_env,
            cwd=project,
            ready=lambda: answers(f"{internal}/health"),
        )

    def api(self, method: str, **params: object) -> dict:
        """Centrifugo's server API (POST /api/<method>) with the test's key; its `result`."""
        request = urllib.request.Request(  # noqa: S310 - local
            f"{self.api_url}/{method}",
            data=json.dumps(params).encode(),
            headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
            answer = json.load(response)
        assert "error" not in answer, answer
        return answer["result"]

    def log_lines(self) -> list[dict]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def engine(self) -> str:
        return next(e["engine_type"] for e in self.log_lines() if "engine_type" in e)


@pytest.fixture
def redis_server() -> Iterator[testing.RedisProcess]:
    with testing.RedisProcess() as server:
        yield server


def run_to_the_end(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """run-centrifugo.sh of `project` for a case where it must stop before Centrifugo starts
    (if it did start, the timeout ends it and the test fails)."""
    argv, full_env = script(project, env)
    return subprocess.run(
        argv, cwd=project, env=full_env, capture_output=True, text=True, timeout=30
    )


def ports() -> dict[str, str]:
    return {
        "CENTRIFUGO_PORT": str(testing.free_port()),
        "CENTRIFUGO_INTERNAL_PORT": str(testing.free_port()),
    }


def keys(port: int, db: int, **options: object) -> list[str]:
    """Every key in database `db` of the Redis on `port` (`options`: redis-py's, e.g. TLS)."""
    client = redis.Redis("127.0.0.1", port, db, decode_responses=True, **options)
    try:
        return sorted(client.keys("*"))
    finally:
        client.close()


def test_every_project_name_is_dropped_or_one_centrifugo_knows() -> None:
    """One list in the script: every CENTRIFUGO_* that the settings read or .env.example sets is
    either the project's (dropped, so Centrifugo does not warn) or Centrifugo's own (passed);
    none of Centrifugo's own is ever dropped."""
    ours, theirs = project_names(), centrifugo_names()
    assert len(theirs) > 500  # the real list, not an empty output
    assert "CENTRIFUGO_ENGINE_TYPE" in theirs and "CENTRIFUGO_HTTP_API_KEY" in theirs
    assert not ours & theirs, ours & theirs
    named = settings_names() | env_example_names()
    assert {"CENTRIFUGO_API_URL", "CENTRIFUGO_ENGINE_TYPE"} <= named
    assert named <= ours | theirs, named - ours - theirs
    # Nothing listed for nothing: each dropped name is one the project uses somewhere.
    scripts = " ".join(p.read_text() for p in (ROOT / "scripts").glob("*.sh") if p != SCRIPT)
    used = named | set(re.findall(r"CENTRIFUGO_[A-Z0-9_]+", scripts))
    assert ours <= used, ours - used


def test_redis_engine_from_env_uses_the_project_redis_and_keeps_history(
    tmp_path: Path, redis_server: testing.RedisProcess
) -> None:
    """CENTRIFUGO_ENGINE_TYPE=redis with no address: REDIS_URL's server, database 2, where a
    publication's history lives and survives a restart. The project's own names, all set, do
    not reach Centrifugo; the API key comes from .env, the ports from the environment."""
    project = make_project(tmp_path / "project", SECRETS)
    # Every name of ours (the script's list and whatever the settings and .env.example name that
    # Centrifugo does not know), set: none may reach Centrifugo.
    ours = project_names() | (settings_names() | env_example_names()) - centrifugo_names()
    env = {
        **dict.fromkeys(ours, "1"),
        **ports(),
        "CENTRIFUGO_ALLOWED_ORIGINS": "http://127.0.0.1:1",
        "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY": TOKEN_SECRET,
        "CENTRIFUGO_API_URL": "http://127.0.0.1:1/api",
        "CENTRIFUGO_ENGINE_TYPE": "redis",
        "VAR_DIR": str(tmp_path / "var"),
        "REDIS_URL": redis_server.url,
    }
    node = ScriptCentrifugo(project, env)
    with node:
        assert node.engine() == "redis"
        node.api("publish", channel="chat:7", data={"text": "kept in Redis"})
        expected = ["centrifugo.stream.chat:7", "centrifugo.stream.meta.chat:7"]
        assert keys(redis_server.port, 2) == expected
        assert keys(redis_server.port, 0) == keys(redis_server.port, 1) == []  # broker's, cache's
    with node:  # a new process: the history is Redis's, not its memory's
        history = node.api("history", channel="chat:7", limit=10)
        assert [p["data"] for p in history["publications"]] == [{"text": "kept in Redis"}]
    log = node.log_path.read_text()
    assert "using config file" in log and str(project / "centrifugo" / "config.json") in log
    assert UNKNOWN not in log, [line for line in log.splitlines() if UNKNOWN in line]


def test_centrifugo_own_names_pass_through_from_env_file_and_environment(
    tmp_path: Path, redis_server: testing.RedisProcess
) -> None:
    """Centrifugo's own names in .env reach it (the engine, its address, the log level); the
    environment wins over .env for the same name (the key prefix)."""
    address = redis_server.url.rsplit("/", 1)[0] + "/5"
    project = make_project(
        tmp_path / "project",
        "\n".join(
            [
                f"CENTRIFUGO_HTTP_API_KEY={API_KEY}",
                f"CENTRIFUGO_TOKEN_HMAC_SECRET_KEY={TOKEN_SECRET}",
                "CENTRIFUGO_ENGINE_TYPE=redis",
                f"CENTRIFUGO_ENGINE_REDIS_ADDRESS={address}",
                "CENTRIFUGO_ENGINE_REDIS_PREFIX=from-dotenv",
                # One of the four mapped from ours, with ours's value: no conflict.
                f"CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY={TOKEN_SECRET}",
                "CENTRIFUGO_LOG_LEVEL=debug",
                "CENTRIFUGO_API_URL=http://127.0.0.1:1/api",
            ]
        )
        + "\n",
    )
    env = {**ports(), "VAR_DIR": str(tmp_path / "var"), "REDIS_URL": redis_server.url}
    env["CENTRIFUGO_ENGINE_REDIS_PREFIX"] = "from-env"
    env["CENTRIFUGO_HTTP_SERVER_PORT"] = env["CENTRIFUGO_PORT"]
    with ScriptCentrifugo(project, env) as node:
        assert node.engine() == "redis"
        node.api("publish", channel="chat:8", data={"text": "hello"})
        expected = ["from-env.stream.chat:8", "from-env.stream.meta.chat:8"]
        assert keys(redis_server.port, 5) == expected
        assert keys(redis_server.port, 2) == []
        assert any(line["level"] == "debug" for line in node.log_lines())
    assert UNKNOWN not in node.log_path.read_text()


def test_env_example_as_make_up_exports_it_runs_one_node_in_memory(
    tmp_path: Path, redis_server: testing.RedisProcess
) -> None:
    """.env.example (secrets filled) as make up runs the script: every line also exported to the
    environment (scripts/up.sh's export_env_defaults), the empty ones included. Its empty
    CENTRIFUGO_ENGINE_TYPE means Centrifugo's default, memory: nothing goes to Redis, and none
    of its names makes Centrifugo warn."""
    env_text = re.sub(
        r"^(CENTRIFUGO_HTTP_API_KEY|CENTRIFUGO_TOKEN_HMAC_SECRET_KEY)=.*$",
        lambda m: f"{m[1]}={API_KEY if m[1].endswith('API_KEY') else TOKEN_SECRET}",
        (ROOT / ".env.example").read_text(),
        flags=re.M,
    )
    project = make_project(tmp_path / "project", env_text)
    exported = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", env_text, re.M))
    assert exported["CENTRIFUGO_ENGINE_TYPE"] == exported["CENTRIFUGO_ENGINE_REDIS_ADDRESS"] == ""
    env = {**exported, **ports(), "VAR_DIR": str(tmp_path / "var"), "REDIS_URL": redis_server.url}
    with ScriptCentrifugo(project, env) as node:
        assert node.engine() == "memory"
        node.api("publish", channel="chat:9", data={"text": "in memory"})
        assert node.api("history", channel="chat:9", limit=1)["publications"]
        for db in range(16):
            assert keys(redis_server.port, db) == [], db
    assert UNKNOWN not in node.log_path.read_text()


@pytest.mark.parametrize(
    ("name", "ours", "source"),
    [
        ("CENTRIFUGO_HTTP_SERVER_PORT", "CENTRIFUGO_PORT", "environment"),
        ("CENTRIFUGO_HTTP_SERVER_INTERNAL_PORT", "CENTRIFUGO_INTERNAL_PORT", ".env"),
        ("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY", ".env"),
        ("CENTRIFUGO_CLIENT_ALLOWED_ORIGINS", "CENTRIFUGO_ALLOWED_ORIGINS", "environment"),
    ],
)
def test_a_centrifugo_name_we_map_set_otherwise_stops_the_script(
    tmp_path: Path, name: str, ours: str, source: str
) -> None:
    """The four Centrifugo names the script sets from ours: another value from the environment
    or .env would be overwritten without a word; the script stops and names ours instead,
    without showing the value (one is a secret)."""
    value = "another-value-of-32-bytes-or-more-0123456789"
    env_text = SECRETS
    env = {**ports(), "VAR_DIR": str(tmp_path / "var")}
    if source == ".env":
        env_text += f"{name}={value}\n"
    else:
        env[name] = value
    result = run_to_the_end(make_project(tmp_path / "project", env_text), env)
    assert result.returncode != 0
    assert f"{name} is set to something other than {ours} gives it" in result.stderr
    assert f"set {ours} instead" in result.stderr
    assert value not in result.stdout + result.stderr
    assert "using config file" not in result.stdout + result.stderr  # Centrifugo never ran


@pytest.mark.parametrize(
    "redis_url",
    [
        "unix:///run/redis/redis.sock",
        # redis-py's option: Centrifugo would ignore it and verify the certificate anyway.
        "rediss://:url-password@127.0.0.1:6380/0?ssl_cert_reqs=none",
    ],
)
def test_no_engine_address_from_a_redis_url_centrifugo_would_misread(
    tmp_path: Path, redis_url: str
) -> None:
    """The Redis engine with no address of its own and a REDIS_URL the script cannot turn into
    one: it stops, naming the variable to set, and never shows the URL (it holds a password)."""
    project = make_project(tmp_path / "project", SECRETS)
    env = {**ports(), "VAR_DIR": str(tmp_path / "var"), "REDIS_URL": redis_url}
    env["CENTRIFUGO_ENGINE_TYPE"] = "redis"
    result = run_to_the_end(project, env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "set CENTRIFUGO_ENGINE_REDIS_ADDRESS" in result.stderr
    assert "url-password" not in output and "redis.sock" not in output
    assert "using config file" not in output


def test_rediss_url_gives_the_engine_its_tls_server_credentials_and_database_2(
    tmp_path: Path,
) -> None:
    """REDIS_URL rediss://:password@host:port/0 (a TLS Redis with a password): the engine gets
    the same scheme, server and password, database 2 instead of 0. A real redis-server on TLS
    only, with a self-signed certificate Centrifugo trusts through SSL_CERT_FILE (Go's roots)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    openssl += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*openssl, "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port, password = testing.free_port(), "tls-redis-password"
    argv = ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    argv += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    argv += ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
    argv += ["--requirepass", password, "--save", "", "--appendonly", "no"]
    project = make_project(tmp_path / "project", SECRETS)
    env = {
        **ports(),
        "VAR_DIR": str(tmp_path / "var"),
        "CENTRIFUGO_ENGINE_TYPE": "redis",
        "REDIS_URL": f"rediss://:{password}@127.0.0.1:{port}/0",
        "SSL_CERT_FILE": str(cert),
    }
    with testing.ManagedProcess("redis-tls", argv, port=port):
        with ScriptCentrifugo(project, env) as node:
            assert node.engine() == "redis"
            node.api("publish", channel="chat:10", data={"text": "over TLS"})
        tls = {"password": password, "ssl": True, "ssl_ca_certs": str(cert)}
        expected = ["centrifugo.stream.chat:10", "centrifugo.stream.meta.chat:10"]
        assert keys(port, 2, **tls) == expected
        assert keys(port, 0, **tls) == []
