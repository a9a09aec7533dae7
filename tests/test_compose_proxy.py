"""Compose's TLS proxy, the one service users reach: nginx rendering
deploy/nginx/chatplatform.conf.template (the file make prod's proxy renders) from its own
environment, as the image's entrypoint does; what it is wired to (web, centrifugo-lb, the
static volume, the certificate and key from the host, the published ports, the public address
the app derives from them); and that rendering run by Debian's nginx in front of compose's web
command (gunicorn, launchers/gunicorn_conf.py) with the local CA make prod makes: https, http
redirected to the published port, static files, /metrics closed, the container's health check.
Helpers: tests/support.py."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import testing
from launchers import nginx
from launchers.tls import MKCERT
from testing.processes import answers
from tests.support import (
    ROOT,
    container_file,
    example_env_text,
    generated_env_text,
    image_environment,
    image_tree,
    listening_ports,
    load,
    make_project,
    repo_path,
    run_in,
)

# The fixtures project_dir, config and services are in tests/conftest.py (one load a module).

TEMPLATE_DIR = "/etc/nginx/templates/"
# The image's /docker-entrypoint.d/20-envsubst-on-templates.sh, its rendering lines: envsubst of
# the environment variables whose names match NGINX_ENVSUBST_FILTER (an awk regular expression).
ENTRYPOINT_RENDER = (
    "defined_envs=$(printf '${%s} ' $(awk \"END { for (name in ENVIRON) {"
    ' print ( name ~ /${NGINX_ENVSUBST_FILTER}/ ) ? name : \\"\\" } }" < /dev/null ))\n'
    'envsubst "$defined_envs" < "$1"\n'
)
# Docker's "every IPv4 address of the host" for a published port.
EVERY_IPV4 = "0.0.0.0"  # noqa: S104 - the proxy is what users reach


def with_env(text: str, **values: str) -> str:
    """`.env` text with each NAME=... line of `values` replaced."""
    for name, value in values.items():
        text, count = re.subn(rf"^{name}=.*$", f"{name}={value}", text, flags=re.M)
        assert count == 1, name
    return text


def loaded(folder: Path, env_text: str) -> dict[str, dict]:
    result = load(make_project(folder, env_text=env_text))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def mounted(service: dict, target: str) -> dict:
    [mount] = [m for m in service["volumes"] if m["target"] == target]
    return mount


def compose_values(proxy: dict) -> dict[str, str]:
    """The template's names as the proxy container's environment gives them."""
    return {k: v for k, v in proxy["environment"].items() if k != "NGINX_ENVSUBST_FILTER"}


def upstream(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


# --- the template, rendered as the image renders it -----------------------------------------


def test_the_image_renders_the_template_as_make_prod_does(
    project_dir: Path, services: dict
) -> None:
    """The repository's template, mounted read-only as the image's default server; the proxy's
    environment names exactly the template's ${NAMES}, and the entrypoint's envsubst with
    NGINX_ENVSUBST_FILTER, among the other variables a container has (and lower-case ones named
    like nginx's own $host), writes what launchers.nginx.render writes for make prod."""
    envsubst = shutil.which("envsubst")
    if not envsubst:
        pytest.fail("envsubst is missing: apt-get install gettext-base (the image's renderer)")
    proxy = services["proxy"]
    [template] = [m for m in proxy["volumes"] if m["target"].startswith(TEMPLATE_DIR)]
    assert container_file(proxy, project_dir, template["target"]) == nginx.TEMPLATE
    assert template["read_only"] is True
    # Rendered to conf.d/default.conf: in place of the image's welcome page on port 80.
    assert template["target"] == f"{TEMPLATE_DIR}default.conf.template"

    text = nginx.TEMPLATE.read_text()
    values = compose_values(proxy)
    assert set(values) == set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", text))
    container_env = {
        **proxy["environment"],
        "PATH": os.environ["PATH"],
        "HOSTNAME": "proxy",
        "NGINX_VERSION": "1.30.4",
        "HOME": "/root",
        "host": "not-nginx's",
        "remote_addr": "not-nginx's",
    }
    rendered = subprocess.run(
        ["sh", "-c", ENTRYPOINT_RENDER, "render", str(nginx.TEMPLATE)],
        env=container_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert rendered == nginx.render(text, values)
    assert not re.search(r"\$\{[A-Z]", rendered)
    assert "$host" in rendered and "$remote_addr" in rendered


def test_nginx_accepts_compose_rendering(tmp_path: Path) -> None:
    """`nginx -t` (Debian's) on the template rendered with the proxy's values, in a main
    configuration like launchers/nginx.py's (the image's differs in paths only), with the
    certificate `python -m launchers.tls` makes where compose mounts it from by default. The
    upstreams' names are compose services, which Docker's DNS resolves in the network; here
    loopback addresses stand in for them, their ports kept."""
    prod = tmp_path / "prod"
    made = json.loads(
        subprocess.run(
            [sys.executable, "-m", "launchers.tls", "--dir", str(prod / "tls"), "localhost"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    services = loaded(
        tmp_path / "project",
        with_env(generated_env_text(), PROD_VAR_DIR=str(prod)),
    )
    proxy = services["proxy"]
    values = compose_values(proxy)
    for name, address in (("WEB_UPSTREAM", "127.0.0.2"), ("CENTRIFUGO_UPSTREAM", "127.0.0.3")):
        host, port = upstream(values[name])
        assert host in services, name
        values[name] = f"{address}:{port}"
    for name, kind in (("TLS_CERT_FILE", "cert_file"), ("TLS_KEY_FILE", "key_file")):
        source = mounted(proxy, values[name])["source"]
        assert source == made[kind], name  # compose's default is what launchers.tls writes
        values[name] = source
    config = nginx.write_config(tmp_path / "state", values)
    check = subprocess.run(
        [nginx.NGINX, "-t", "-c", str(config)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stderr
    assert "[emerg]" not in check.stderr


# --- what the proxy is wired to ---------------------------------------------------------------


def test_the_proxy_forwards_to_web_and_the_balancer_and_serves_the_static_volume(
    services: dict,
) -> None:
    proxy, web, balancer = services["proxy"], services["web"], services["centrifugo-lb"]
    env = proxy["environment"]
    host, port = upstream(env["WEB_UPSTREAM"])
    assert host == "web" and port in listening_ports("web", web)
    assert f"127.0.0.1:{port}/healthz" in " ".join(web["healthcheck"]["test"])
    host, port = upstream(env["CENTRIFUGO_UPSTREAM"])
    assert host == "centrifugo-lb"
    assert f":{port}" == balancer["environment"]["LB_WEBSOCKET_BIND"]
    # Neither is published any more: browsers reach both through the proxy alone.
    assert not web.get("ports") and not balancer.get("ports")

    # Static files: the volume the `static` one-shot fills, read-only here, before it starts.
    served = mounted(proxy, env["STATIC_ROOT"])
    assert served["type"] == "volume" and served["read_only"] is True
    static = services["static"]
    [filled] = [m for m in static["volumes"] if m["source"] == served["source"]]
    assert not filled.get("read_only")
    assert proxy["depends_on"]["static"]["condition"] == "service_completed_successfully"
    assert static["restart"] == "no" and not static.get("env_file")
    # What it copies is where the Dockerfile's collectstatic writes (settings.STATIC_ROOT in the
    # image, which has no .env: VAR_DIR's default), into a folder the app user owns there.
    collected = run_in(
        {"environment": {"DJANGO_DEBUG": "true"}},
        ["python", "-c", "from django.conf import settings; print(settings.STATIC_ROOT)"],
    )
    assert collected.returncode == 0, collected.stderr
    image_root = "/app/" + Path(collected.stdout.strip()).relative_to(image_tree()).as_posix()
    assert static["command"] == ["sh", "-c", f"cp -R {image_root}/. {filled['target']}/"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^WORKDIR /app$", dockerfile, re.M)
    [made] = re.findall(r"mkdir -p ([^&]+)&& chown -R app:app", dockerfile)
    assert filled["target"] in made.split()

    # Started after both upstreams answer; restarted when compose recreates one (nginx looks
    # their addresses up once).
    for name in ("web", "centrifugo-lb"):
        assert proxy["depends_on"][name] == {
            "condition": "service_healthy",
            "restart": True,
            "required": True,
        }, name
    assert proxy["restart"] == "unless-stopped"


def test_the_proxy_health_check_asks_its_https_port(services: dict) -> None:
    """Through TLS to web's /livez, on the port nginx listens on in the container."""
    proxy = services["proxy"]
    check = " ".join(proxy["healthcheck"]["test"])
    [port] = re.findall(r"https://127\.0\.0\.1:(\d+)/livez", check)
    assert port == proxy["environment"]["HTTPS_PORT"]
    assert proxy["image"].startswith("nginx:") and proxy["image"].endswith("-alpine")


def test_web_runs_gunicorn_with_make_prods_settings_behind_the_proxy(services: dict) -> None:
    """launchers/gunicorn_conf.py, listening on the internal network (its bind from compose's
    environment), Django told that the proxy's X-Forwarded-Proto is to be believed."""
    web = services["web"]
    assert "gunicorn -c python:launchers.gunicorn_conf chatplatform.wsgi:application" in " ".join(
        web["command"]
    )
    env = web["environment"]
    assert env["DJANGO_BEHIND_TLS_PROXY"] == "true"
    assert env["TRUSTED_PROXY_COUNT"] == "1"
    bound = run_in(
        web, ["python", "-c", "import launchers.gunicorn_conf as c; print(c.bind, c.raw_env)"]
    )
    assert bound.returncode == 0, bound.stderr
    assert bound.stdout.split(" ", 1)[0] == f"0.0.0.0:{upstream(env['GUNICORN_BIND'])[1]}"
    assert "DATABASE_CONN_MAX_AGE=600" in bound.stdout  # connections kept (.env.example's)


# --- ports, certificate and the public address from .env ------------------------------------


def test_the_proxy_publishes_envs_ports_on_every_address_unless_told(tmp_path: Path) -> None:
    """HTTPS_PORT and HTTP_PORT, make prod's too (8443, 8080), on 0.0.0.0 by default; the
    redirect and the WebSocket URL name the published port. A real domain: 443 and 80."""
    proxy = loaded(tmp_path / "default", example_env_text())["proxy"]
    env = proxy["environment"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in proxy["ports"]] == [
        (EVERY_IPV4, "8443", int(env["HTTPS_PORT"])),
        (EVERY_IPV4, "8080", int(env["HTTP_PORT"])),
    ]
    assert env["PUBLIC_PORT_SUFFIX"] == ":8443"

    domain = with_env(
        example_env_text(),
        PROD_HOST="chat.example.com",
        HTTPS_PORT="443",
        HTTP_PORT="80",
        PROXY_BIND_ADDRESS="127.0.0.1",
    )
    services = loaded(tmp_path / "domain", domain)
    proxy = services["proxy"]
    assert [(p["host_ip"], p["published"]) for p in proxy["ports"]] == [
        ("127.0.0.1", "443"),
        ("127.0.0.1", "80"),
    ]
    websocket = urlsplit(services["web"]["environment"]["CENTRIFUGO_WS_URL"])
    assert (websocket.scheme, websocket.hostname, websocket.port, websocket.path) == (
        "wss",
        "chat.example.com",
        443,
        "/connection/websocket",
    )


def test_the_certificate_comes_from_make_prod_or_env_never_created(tmp_path: Path) -> None:
    """By default make prod's (PROD_VAR_DIR/tls, where launchers.tls writes); a real domain's
    from TLS_CERT_FILE and TLS_KEY_FILE. Read-only, and a missing file is an error rather than
    the empty folder Docker would otherwise create in its place."""
    cases = {
        "default": ({}, "var/prod/tls/cert.pem", "var/prod/tls/key.pem"),
        "var-dir": (
            {"PROD_VAR_DIR": "/srv/prod"},
            "/srv/prod/tls/cert.pem",
            "/srv/prod/tls/key.pem",
        ),
        "domain": (
            {
                "TLS_CERT_FILE": "/etc/letsencrypt/live/chat.example.com/fullchain.pem",
                "TLS_KEY_FILE": "/etc/letsencrypt/live/chat.example.com/privkey.pem",
            },
            "/etc/letsencrypt/live/chat.example.com/fullchain.pem",
            "/etc/letsencrypt/live/chat.example.com/privkey.pem",
        ),
    }
    for case, (settings, cert, key) in cases.items():
        folder = tmp_path / case
        proxy = loaded(folder, with_env(example_env_text(), **settings))["proxy"]
        for variable, expected in (("TLS_CERT_FILE", cert), ("TLS_KEY_FILE", key)):
            mount = mounted(proxy, proxy["environment"][variable])
            source = Path(mount["source"])
            if not Path(expected).is_absolute():
                source = repo_path(folder, mount["source"]).relative_to(ROOT)
            assert str(source) == expected, (case, variable)
            assert mount["type"] == "bind" and mount["read_only"] is True
            assert mount["bind"]["create_host_path"] is False


# --- compose's proxy and web, run --------------------------------------------------------------


def fetch(url: str, context: ssl.SSLContext | None = None) -> tuple[int, dict, bytes]:
    """Status, headers and body of a GET, redirects not followed."""
    parts = urlsplit(url)
    connection = (
        http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=10)
        if parts.scheme == "https"
        else http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    )
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.slow
def test_compose_proxy_serves_compose_web_over_https() -> None:
    """Debian's nginx with the proxy's rendering (ports, upstream addresses and the static
    folder moved to this machine's), the certificate make prod's local CA signs for localhost,
    in front of web's own command and environment (generated secrets, one gunicorn worker): a
    client trusting the CA gets web's answer, with the HSTS header Django sends only when it
    knows the request came over https; http is sent to https on the published port; static
    files come from the folder with a year's cache; /metrics stays closed; the container's
    health check passes, and fails once the proxy is gone."""
    if not MKCERT.exists():
        pytest.fail(f"{MKCERT} is missing: scripts/setup.sh --test builds it")
    # nginx's workers run as nobody when the tests run as root: a folder they can enter.
    root = Path(tempfile.mkdtemp(prefix="compose-proxy-"))
    root.chmod(0o755)
    try:
        _run_proxy_and_web(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_proxy_and_web(root: Path) -> None:
    prod = root / "prod"
    made = json.loads(
        subprocess.run(
            [sys.executable, "-m", "launchers.tls", "--dir", str(prod / "tls"), "localhost"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    env_text = with_env(
        generated_env_text(), PROD_VAR_DIR=str(prod), PUBLIC_BASE_URL="https://localhost:8443"
    )
    services = loaded(root / "project", env_text)
    proxy, web = services["proxy"], services["web"]

    web_port = testing.free_port()
    multiproc = root / "prometheus-multiproc"
    in_container = web["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    command = web["command"][2].replace(in_container, str(multiproc))
    web_env = {
        **image_environment(),
        **web["environment"],
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "WEB_WORKERS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(image_tree()),
    }
    gunicorn = testing.ManagedProcess(
        "compose-web",
        ["sh", "-c", command],
        env=web_env,
        port=web_port,
        cwd=image_tree(),
        ready=lambda: answers(f"http://127.0.0.1:{web_port}/livez"),
    )

    static = root / "static"
    (static / "app").mkdir(parents=True)
    (static / "app" / "page.0123abcd.css").write_text("body { color: teal }\n")
    https_port, http_port = testing.free_port(), testing.free_port()
    values = {
        **compose_values(proxy),
        "HTTPS_PORT": str(https_port),
        "HTTP_PORT": str(http_port),
        "WEB_UPSTREAM": f"127.0.0.1:{web_port}",
        "CENTRIFUGO_UPSTREAM": f"127.0.0.1:{testing.free_port()}",
        "STATIC_ROOT": str(static),
        "TLS_CERT_FILE": mounted(proxy, proxy["environment"]["TLS_CERT_FILE"])["source"],
        "TLS_KEY_FILE": mounted(proxy, proxy["environment"]["TLS_KEY_FILE"])["source"],
    }
    assert values["TLS_CERT_FILE"] == made["cert_file"]
    config = nginx.write_config(root / "nginx", values)
    server = testing.ManagedProcess(
        "compose-proxy", [nginx.NGINX, "-c", str(config), "-g", "daemon off;"], port=https_port
    )
    trusted = ssl.create_default_context(cafile=made["ca_file"])
    url = f"https://localhost:{https_port}"
    check = [
        word.replace("https://127.0.0.1:443/", f"https://127.0.0.1:{https_port}/")
        for word in proxy["healthcheck"]["test"][1:]
    ]

    def healthy() -> bool:
        return subprocess.run(check, capture_output=True, timeout=10).returncode == 0

    with contextlib.ExitStack() as stack:
        stack.enter_context(gunicorn)
        stack.enter_context(server)
        status, headers, body = fetch(f"{url}/livez", trusted)
        assert status == 200, body
        assert headers.get("Strict-Transport-Security", "").startswith("max-age=31536000")

        status, headers, _ = fetch(f"http://localhost:{http_port}/login/?next=/chats/")
        assert status == 301
        assert headers["Location"] == "https://localhost:8443/login/?next=/chats/"

        status, headers, body = fetch(f"{url}/static/app/page.0123abcd.css", trusted)
        assert (status, body) == (200, b"body { color: teal }\n")
        cache = headers["Cache-Control"]
        assert "max-age=31536000" in cache and "immutable" in cache, cache

        assert fetch(f"{url}/metrics", trusted)[0] == 404
        # Trust matters: without the CA the certificate is refused.
        with pytest.raises(ssl.SSLCertVerificationError):
            fetch(f"{url}/livez", ssl.create_default_context())

        assert healthy(), "the proxy's health check fails against the proxy"
        server.stop()
        assert not healthy()
