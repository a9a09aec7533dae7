"""Ports and addresses in docker-compose.yml fit together: the TLS proxy's ports are the ones
users reach, every other published port is local, and each is one its service listens on; what
Prometheus scrapes, Grafana's datasource, the proxy's upstreams and the app's settings point at
are real services on their ports; Alertmanager reads the config its one-shot renders. Then
Centrifugo: nothing published (browsers come through the proxy), the API, metrics and health on
the internal port, the `scale` profile's second node, the Redis engine on every node, the
balancer's health check against a real HAProxy; and the metrics token Prometheus sends.
Helpers: tests/support.py; the proxy itself: tests/test_compose_proxy.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import yaml

import testing
from tests.support import (
    DJANGO_SERVICES,
    ROOT,
    SCALE_SERVICES,
    SERVICES,
    WORKERS,
    container_file,
    depends_on_completed,
    env_example,
    example_env_text,
    generated_env_text,
    listening_ports,
    load,
    make_project,
    run_in,
)

# The fixtures project_dir, config and services are in tests/conftest.py (one load a module).

# --- ports and addresses fit together --------------------------------------------------------


def test_published_ports_are_local_and_the_ones_services_listen_on(services: dict) -> None:
    """Only the TLS proxy's reach beyond this machine: web and Centrifugo's WebSocket are behind
    it, unpublished."""
    defaults = env_example()
    published = {
        "flower": "FLOWER_PORT",
        "prometheus": "PROMETHEUS_PORT",
        "grafana": "GRAFANA_PORT",
        "mailpit": "SMTP_WEB_PORT",
        "jupyter": "JUPYTER_PORT",
    }
    for name, service in services.items():
        if name == "proxy":
            continue
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes beyond this machine"
            assert port["target"] in listening_ports(name, service), f"{name}: {port}"
            assert port["published"] == defaults[published[name]], f"{name}: {port}"
    assert {*published, "proxy"} == {name for name, s in services.items() if s.get("ports")}
    # The proxy: .env's HTTPS_PORT and HTTP_PORT, on PROXY_BIND_ADDRESS (empty: every IPv4
    # address), to the ports nginx listens on in the container (its template's).
    proxy = services["proxy"]
    assert defaults["PROXY_BIND_ADDRESS"] == ""
    every_ipv4 = "0.0.0.0"  # noqa: S104 - what users reach
    assert [(p["published"], str(p["target"]), p["host_ip"]) for p in proxy["ports"]] == [
        (defaults["HTTPS_PORT"], proxy["environment"]["HTTPS_PORT"], every_ipv4),
        (defaults["HTTP_PORT"], proxy["environment"]["HTTP_PORT"], every_ipv4),
    ]


def test_prometheus_and_grafana_and_the_app_point_at_real_services(services: dict) -> None:
    def reachable(url_or_address: str) -> None:
        parts = urlsplit(url_or_address if "//" in url_or_address else f"//{url_or_address}")
        assert parts.hostname in services, url_or_address
        port = parts.port or {"http": 80}.get(parts.scheme)
        assert port in listening_ports(parts.hostname, services[parts.hostname]), url_or_address

    scrape = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())
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
        (ROOT / "monitoring/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    for source in datasources["datasources"]:
        reachable(source["url"])

    for name in DJANGO_SERVICES:
        env = services[name]["environment"]
        reachable(env["DATABASE_URL"].replace("postgres://", "http://"))
        reachable(env["REDIS_URL"].replace("redis://", "http://"))
        reachable(env["CENTRIFUGO_API_URL"])
        reachable(f"{env['EMAIL_HOST']}:{env['EMAIL_PORT']}")
        assert "web" in env["DJANGO_ALLOWED_HOSTS"].split(",")  # Prometheus asks for Host: web
    # The proxy forwards to web and the balancer; browsers open their WebSocket on the port it
    # publishes for https, at the path it forwards.
    proxy = services["proxy"]
    reachable(proxy["environment"]["WEB_UPSTREAM"])
    reachable(proxy["environment"]["CENTRIFUGO_UPSTREAM"])
    ws = urlsplit(services["web"]["environment"]["CENTRIFUGO_WS_URL"])
    assert (ws.scheme, ws.path) == ("wss", "/connection/websocket")
    assert str(ws.port) == proxy["ports"][0]["published"]
    assert proxy["ports"][0]["target"] == int(proxy["environment"]["HTTPS_PORT"])


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


# --- the internal ports and the metrics token -----------------------------------------------


def bind_port(service: dict, variable: str) -> int:
    return int(service["environment"][variable].rsplit(":", 1)[1])


def test_centrifugo_api_metrics_and_health_use_the_unpublished_internal_port(services) -> None:
    """Browsers reach the balancer's WebSocket port only, through the TLS proxy, and it forwards
    to each node's public port; the app's API calls go to the balancer's API port, forwarded to
    each node's internal one, which Prometheus and the health check use too. None is
    published."""
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
    assert not balancer.get("ports")
    assert services["proxy"]["environment"]["CENTRIFUGO_UPSTREAM"] == f"centrifugo-lb:{websocket}"
    api = bind_port(balancer, "LB_API_BIND")
    for name in DJANGO_SERVICES:
        url = urlsplit(services[name]["environment"]["CENTRIFUGO_API_URL"])
        assert (url.hostname, url.port) == ("centrifugo-lb", api), name
    scrape = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())
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
    # Its own database: not the broker's or the cache's (the settings: REDIS_URL's 0 and 1).
    broker = urlsplit(scaled["web"]["environment"]["REDIS_URL"])
    assert (address.hostname, address.port) == (broker.hostname, broker.port)
    assert address.path not in (broker.path, "/1", "", "/")
    assert node_1["depends_on"]["redis"]["condition"] == "service_healthy"

    lb = scaled["centrifugo-lb"]["environment"]
    assert lb["LB_NODE_2_HOST"] in scaled
    scrape = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())
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
    scrape = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())
    web = next(j for j in scrape["scrape_configs"] if j["job_name"] == "web")
    assert web["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/run/secrets/metrics_bearer_token",
    }
