"""Alertmanager's rendered config passes amtool for make up and a production-like environment,
routes critical alerts to their own receiver when one is set (amtool's route test) and is readable
by its owner only; a bad value stops the rendering naming its variable. A frozen worker's scrape
failure is inhibited by its stale heartbeat, a Centrifugo outage's consequences by their cause (a
real Alertmanager)."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

import testing
from monitoring.alertmanager import config as alertmanager_config

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
PRODUCTION = {
    "ALERT_EMAIL_TO": "oncall@example.com, ops@example.com",
    "ALERT_EMAIL_FROM": "Chat alerts <alerts@example.com>",
    "ALERT_SMTP_HOST": "smtp.example.com",
    "ALERT_SMTP_PORT": "587",
    "ALERT_SMTP_USER": "alerts",
    "ALERT_SMTP_PASSWORD": "an-smtp-password",
    "ALERT_SMTP_REQUIRE_TLS": "true",
    "ALERT_WEBHOOK_URL": "https://hooks.example.com/alerts",
    "PUBLIC_BASE_URL": "https://chat.example.com",
}


def check(tmp_path: Path, env: dict[str, str]) -> dict:
    """Render with `env`, run `amtool check-config` on the files, return the parsed config."""
    output = tmp_path / "alertmanager.yml"
    assert alertmanager_config.main(["--output", str(output)], env=env) == 0
    result = subprocess.run(
        [AMTOOL, "check-config", str(output)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout
    return yaml.safe_load(output.read_text())


def route_receivers(config: Path, *labels: str) -> str:
    """The receivers Alertmanager's routing tree picks for an alert with `labels` (amtool)."""
    result = subprocess.run(
        [AMTOOL, "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_make_up_defaults_email_the_dev_inbox_without_tls(tmp_path: Path) -> None:
    config = check(tmp_path, {"WEB_PORT": "8000", "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": "1025"})
    [receiver] = config["receivers"]
    [email] = receiver["email_configs"]
    assert email["to"] == "alerts@chatplatform.local"
    assert email["smarthost"] == "127.0.0.1:1025"
    assert email["require_tls"] is False
    assert email["send_resolved"] is True
    assert "auth_username" not in email and "webhook_configs" not in receiver
    template = (tmp_path / alertmanager_config.TEMPLATE_NAME).read_text()
    assert "http://127.0.0.1:8000{{ . }}" in template  # the runbook link, made absolute


def test_production_env_with_webhook_and_auth(tmp_path: Path) -> None:
    config = check(tmp_path, PRODUCTION)
    [receiver] = config["receivers"]
    [email] = receiver["email_configs"]
    assert email["to"] == "oncall@example.com, ops@example.com"
    assert email["smarthost"] == "smtp.example.com:587"
    assert (email["auth_username"], email["auth_password"]) == ("alerts", "an-smtp-password")
    assert email["require_tls"] is True
    assert receiver["webhook_configs"] == [
        {"url": "https://hooks.example.com/alerts", "send_resolved": True}
    ]
    template = (tmp_path / alertmanager_config.TEMPLATE_NAME).read_text()
    assert "https://chat.example.com{{ . }}" in template


def test_alert_smtp_host_alone_never_gets_the_apps_login(tmp_path: Path) -> None:
    """ALERT_SMTP_HOST takes the whole ALERT_SMTP_* set: the app's EMAIL_* login stays home."""
    app_mail = {
        "EMAIL_HOST": "smtp.app.example.com",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "app",
        "EMAIL_HOST_PASSWORD": "the-apps-password",
        "EMAIL_USE_TLS": "true",
    }
    env = {**app_mail, "ALERT_SMTP_HOST": "relay.internal", "ALERT_SMTP_PORT": "25"}
    config = check(tmp_path, env)
    [email] = config["receivers"][0]["email_configs"]
    assert email["smarthost"] == "relay.internal:25"
    assert "auth_username" not in email and email["require_tls"] is False
    assert "the-apps-password" not in (tmp_path / "alertmanager.yml").read_text()
    # Without ALERT_SMTP_HOST, the app's set, whole.
    [email] = check(tmp_path, app_mail)["receivers"][0]["email_configs"]
    assert email["smarthost"] == "smtp.app.example.com:587"
    assert (email["auth_username"], email["auth_password"]) == ("app", "the-apps-password")
    assert email["require_tls"] is True


@pytest.mark.parametrize("name", ["ALERT_SMTP_USER", "ALERT_SMTP_PASSWORD", "ALERT_SMTP_PORT"])
def test_alert_smtp_settings_without_its_host_are_refused(name: str) -> None:
    with pytest.raises(alertmanager_config.ConfigError, match=f"{name}.*ALERT_SMTP_HOST is empty"):
        alertmanager_config.render_config({"EMAIL_HOST": "smtp.app.example.com", name: "x"})


def test_the_config_holding_the_password_is_for_its_owner_only(tmp_path: Path) -> None:
    output = tmp_path / "alertmanager.yml"
    output.write_text("old")
    output.chmod(0o644)  # rendered again over an older, readable file
    assert alertmanager_config.main(["--output", str(output)], env=PRODUCTION) == 0
    assert "an-smtp-password" in output.read_text()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    # Compose: Alertmanager runs as another user of the file's group.
    argv = ["--output", str(output), "--group-readable"]
    assert alertmanager_config.main(argv, env=PRODUCTION) == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o640


def test_critical_alerts_reach_their_own_receiver_when_set(tmp_path: Path) -> None:
    env = {
        **PRODUCTION,
        "ALERT_CRITICAL_EMAIL_TO": "pager@example.com",
        "ALERT_CRITICAL_WEBHOOK_URL": "https://pager.example.com/hook",
    }
    config = check(tmp_path, env)
    path = tmp_path / "alertmanager.yml"
    assert route_receivers(path, "alertname=CeleryQueueNoWorker", "severity=critical") == (
        "team-critical"
    )
    assert route_receivers(path, "alertname=CeleryQueueWaitHigh", "severity=warning") == "team"
    assert route_receivers(path, "alertname=Watchdog", "severity=none") == "team"
    critical = {r["name"]: r for r in config["receivers"]}["team-critical"]
    assert critical["email_configs"][0]["to"] == "pager@example.com"
    assert critical["email_configs"][0]["smarthost"] == "smtp.example.com:587"
    assert critical["webhook_configs"] == [
        {"url": "https://pager.example.com/hook", "send_resolved": True}
    ]
    # Only the critical email set: the team's webhook still gets critical alerts.
    env = {**PRODUCTION, "ALERT_CRITICAL_EMAIL_TO": "pager@example.com"}
    critical = {r["name"]: r for r in check(tmp_path, env)["receivers"]}["team-critical"]
    assert critical["webhook_configs"][0]["url"] == "https://hooks.example.com/alerts"


def test_without_a_critical_receiver_every_alert_reaches_the_team(tmp_path: Path) -> None:
    config = check(tmp_path, PRODUCTION)
    assert [r["name"] for r in config["receivers"]] == ["team"]
    path = tmp_path / "alertmanager.yml"
    assert route_receivers(path, "alertname=CeleryQueueNoWorker", "severity=critical") == "team"


def test_routes_by_severity_and_the_watchdog_apart(tmp_path: Path) -> None:
    route = check(tmp_path, {})["route"]
    by_matcher = {tuple(r["matchers"]): r for r in route["routes"]}
    watchdog = by_matcher[('alertname="Watchdog"',)]
    critical, warning = by_matcher[('severity="critical"',)], by_matcher[('severity="warning"',)]
    assert route["routes"][0] is watchdog  # before the severities: its own long repeat
    assert watchdog["repeat_interval"] == "24h"
    assert critical["group_wait"] == "10s" and warning["group_wait"] == "1m"
    assert "queue" in route["group_by"] and "alertname" in route["group_by"]


def test_inhibition_mutes_queue_waits_by_their_cause(tmp_path: Path, settings) -> None:
    output = tmp_path / "alertmanager.yml"
    settings.WORKER_GROUPS = {
        "email": {"queues": ["email"]},
        "background": {"queues": ["stats", "maintenance"]},
    }
    assert (
        alertmanager_config.main(["--output", str(output), "--worker-queues-from-settings"], env={})
        == 0
    )
    rules = yaml.safe_load(output.read_text())["inhibit_rules"]
    waits = alertmanager_config.QUEUE_WAIT_ALERTS
    assert {
        "source_matchers": ['alertname="CeleryQueueNoWorker"'],
        "target_matchers": [waits],
        "equal": ["queue"],
    } in rules
    assert {
        "source_matchers": ['alertname="CeleryNoWorkerOnline"'],
        "target_matchers": [waits],
    } in (rules)
    assert {
        "source_matchers": ['alertname="CeleryWorkerHeartbeatStale"', 'group="background"'],
        "target_matchers": [waits, 'queue=~"stats|maintenance"'],
    } in rules
    assert {
        "source_matchers": [
            'alertname=~"CentrifugoDown|CentrifugoLoadBalancerDown|CentrifugoLoadBalancerNoNode"'
        ],
        "target_matchers": ['alertname="LiveEventsFailing"'],
    } in rules
    assert {
        "source_matchers": ['alertname="CentrifugoDown"'],
        "target_matchers": ['alertname=~"CentrifugoNodeDown|CentrifugoLoadBalancerNoNode"'],
    } in rules
    assert {
        "source_matchers": ['alertname="CeleryWorkerHeartbeatStale"'],
        "target_matchers": ['alertname="ScrapeTargetDown"', 'job="celery-workers"'],
        "equal": ["group"],
    } in rules


def post_alerts(alertmanager: testing.AlertmanagerProcess, alerts: list[dict[str, str]]) -> None:
    """Send alerts with these labels to Alertmanager's API, as Prometheus does."""
    body = json.dumps([{"labels": labels} for labels in alerts]).encode()
    url, headers = f"{alertmanager.url}/api/v2/alerts", {"Content-Type": "application/json"}
    request = urllib.request.Request(url, body, headers)  # noqa: S310 - local
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - local
        pass


@pytest.mark.slow
def test_a_frozen_worker_emails_its_heartbeat_not_its_scrape_failure() -> None:
    """The SIGSTOP drill: the stale heartbeat of group email mutes ScrapeTargetDown of the email
    worker's metrics port, not that of another group. The labels are those the rules give."""
    files = alertmanager_config.render_config({}, worker_queues={"email": ["email"]})
    alertmanager = testing.AlertmanagerProcess(files)
    alertmanager.start()
    try:
        stale = {"alertname": "CeleryWorkerHeartbeatStale", "severity": "critical", "job": "web"}
        down = {"alertname": "ScrapeTargetDown", "severity": "warning", "job": "celery-workers"}
        post_alerts(
            alertmanager,
            [
                {**stale, "instance": "web:8000", "worker": "email@host", "group": "email"},
                {**down, "instance": "127.0.0.1:9811", "group": "email"},
                {**down, "instance": "127.0.0.1:9812", "group": "live"},
            ],
        )

        def states() -> dict[str, str]:
            alerts = alertmanager.api("alerts", filter='alertname="ScrapeTargetDown"')
            return {a["labels"]["group"]: a["status"]["state"] for a in alerts}

        testing.wait_until(lambda: states().get("email") == "suppressed", 30, "inhibition")
        assert states() == {"email": "suppressed", "live": "active"}
    finally:
        alertmanager.stop()


@pytest.mark.slow
def test_centrifugo_outages_email_their_cause_not_its_consequences() -> None:
    """The load balancer down mutes failing live events but not a node's own warning; every
    node down (CentrifugoDown) mutes each node's warning too, and the balancer's having no node.
    Labels as the rules give them."""
    alertmanager = testing.AlertmanagerProcess(alertmanager_config.render_config({}))
    alertmanager.start()
    try:
        node_down = {"alertname": "CentrifugoNodeDown", "severity": "warning", "job": "centrifugo"}
        post_alerts(
            alertmanager,
            [
                {
                    "alertname": "CentrifugoLoadBalancerDown",
                    "severity": "critical",
                    "job": "centrifugo-lb",
                    "instance": "centrifugo-lb:8404",
                },
                {**node_down, "instance": "172.18.0.9:8002"},
                {
                    "alertname": "CentrifugoLoadBalancerNoNode",
                    "severity": "critical",
                    "job": "centrifugo-lb",
                    "instance": "centrifugo-lb:8404",
                    "proxy": "centrifugo_websocket",
                },
                {
                    "alertname": "LiveEventsFailing",
                    "severity": "warning",
                    "job": "web",
                    "instance": "web:8000",
                    "status": "failed",
                },
            ],
        )

        def states() -> dict[str, str]:
            return {
                a["labels"]["alertname"]: a["status"]["state"] for a in alertmanager.api("alerts")
            }

        testing.wait_until(lambda: states().get("LiveEventsFailing") == "suppressed", 30, "inhibit")
        assert states()["CentrifugoNodeDown"] == "active"
        assert states()["CentrifugoLoadBalancerNoNode"] == "active"
        post_alerts(
            alertmanager,
            [{"alertname": "CentrifugoDown", "severity": "critical", "job": "centrifugo"}],
        )
        testing.wait_until(
            lambda: states().get("CentrifugoNodeDown") == "suppressed", 30, "inhibit"
        )
        assert states() == {
            "CentrifugoLoadBalancerDown": "active",
            "CentrifugoDown": "active",
            "CentrifugoNodeDown": "suppressed",
            "CentrifugoLoadBalancerNoNode": "suppressed",
            "LiveEventsFailing": "suppressed",
        }
    finally:
        alertmanager.stop()


def test_timings_can_be_shortened_for_tests() -> None:
    files = alertmanager_config.render_config(
        {}, timings={"group_wait": "1s", "group_interval": "1s"}
    )
    route = yaml.safe_load(files["alertmanager.yml"])["route"]
    for r in [route, *route["routes"]]:
        assert (r["group_wait"], r["group_interval"]) == ("1s", "1s")
    assert route["routes"][0]["repeat_interval"] == "24h"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALERT_SMTP_PORT", "smtp"),
        ("EMAIL_PORT", "smtp"),
        ("ALERT_CRITICAL_EMAIL_TO", "pager"),
        ("ALERT_CRITICAL_WEBHOOK_URL", "pager.example.com"),
        ("ALERT_EMAIL_TO", "not-an-address"),
        ("ALERT_EMAIL_FROM", "nobody"),
        ("ALERT_WEBHOOK_URL", "hooks.example.com/alerts"),
        ("PUBLIC_BASE_URL", "chat.example.com"),
        ("ALERT_SMTP_REQUIRE_TLS", "maybe"),
        ("WEB_PORT", "eighty"),
    ],
)
def test_a_bad_value_stops_the_rendering_naming_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str, value: str
) -> None:
    output = tmp_path / "alertmanager.yml"
    env = {name: value}
    if name.startswith("ALERT_SMTP_"):
        env["ALERT_SMTP_HOST"], env["ALERT_SMTP_PORT"] = "smtp.example.com", "587"
        env[name] = value
    assert alertmanager_config.main(["--output", str(output)], env=env) == 2
    assert f"{name}={value!r}" in capsys.readouterr().err
    assert not output.exists()


def test_a_password_without_a_user_is_refused() -> None:
    env = {"ALERT_SMTP_HOST": "smtp.example.com", "ALERT_SMTP_PORT": "587"}
    with pytest.raises(alertmanager_config.ConfigError, match="ALERT_SMTP_PASSWORD is set"):
        alertmanager_config.render_config({**env, "ALERT_SMTP_PASSWORD": "secret"})
    with pytest.raises(alertmanager_config.ConfigError, match="EMAIL_HOST_PASSWORD is set"):
        alertmanager_config.render_config({"EMAIL_HOST_PASSWORD": "secret"})


def test_compose_alertmanager_reads_the_owner_only_config_and_links_to_itself() -> None:
    """The one-shot writes the config 0640 as the app user; Alertmanager (nobody) joins that
    user's group to read it, and its emails' links use ALERTMANAGER_EXTERNAL_URL."""
    root = Path(__file__).resolve().parents[2]
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    assert "--group-readable" in services["alertmanager-config"]["command"]
    [uid] = re.findall(r"useradd .*--uid (\d+) app", (root / "Dockerfile").read_text())
    assert services["alertmanager"]["group_add"] == [uid]
    external = "--web.external-url=${ALERTMANAGER_EXTERNAL_URL:-http://127.0.0.1:9093}"
    assert external in services["alertmanager"]["command"]
    assert "\nALERTMANAGER_EXTERNAL_URL=\n" in (root / ".env.example").read_text()
