"""Alertmanager's rendered config passes amtool for make up and a production-like environment; a
bad value stops the rendering naming its variable. The runbooks page is for staff only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model

from dashboards import alertmanager_config

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


def test_routes_by_severity_and_the_watchdog_apart(tmp_path: Path) -> None:
    route = check(tmp_path, {})["route"]
    by_matcher = {tuple(r["matchers"]): r for r in route["routes"]}
    watchdog = by_matcher[('alertname="Watchdog"',)]
    critical, warning = by_matcher[('severity="critical"',)], by_matcher[('severity="warning"',)]
    assert route["routes"][0] is watchdog  # before the severities: its own long repeat
    assert watchdog["repeat_interval"] == "24h"
    assert critical["group_wait"] == "10s" and warning["group_wait"] == "1m"
    assert "queue" in route["group_by"] and "alertname" in route["group_by"]


def test_inhibition_mutes_queue_waits_by_their_cause(tmp_path: Path) -> None:
    output = tmp_path / "alertmanager.yml"
    argv = ["--output", str(output), "--worker-queues", "email=email,background=stats+maintenance"]
    assert alertmanager_config.main(argv, env={}) == 0
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
        "source_matchers": ['alertname="CentrifugoDown"'],
        "target_matchers": ['alertname="LiveEventsFailing"'],
    } in rules


def test_timings_can_be_shortened_for_tests(tmp_path: Path) -> None:
    output = tmp_path / "alertmanager.yml"
    argv = ["--output", str(output), "--group-wait", "1s", "--group-interval", "1s"]
    assert alertmanager_config.main(argv, env={}) == 0
    route = yaml.safe_load(output.read_text())["route"]
    for r in [route, *route["routes"]]:
        assert (r["group_wait"], r["group_interval"]) == ("1s", "1s")
    assert route["routes"][0]["repeat_interval"] == "24h"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALERT_SMTP_PORT", "smtp"),
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
    assert alertmanager_config.main(["--output", str(output)], env={name: value}) == 2
    assert f"{name}={value!r}" in capsys.readouterr().err
    assert not output.exists()


def test_a_password_without_a_user_is_refused() -> None:
    with pytest.raises(alertmanager_config.ConfigError, match="ALERT_SMTP_PASSWORD"):
        alertmanager_config.render_config({"ALERT_SMTP_PASSWORD": "secret"})


@pytest.mark.django_db
def test_runbooks_page_shows_staff_every_alert_section(client) -> None:
    staff = get_user_model().objects.create_user("ops", password="pw-for-ops", is_staff=True)
    client.force_login(staff)
    response = client.get("/runbooks/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<h2 id="celeryqueuenoworker">CeleryQueueNoWorker</h2>' in page
    assert 'id="watchdog"' in page and 'id="drill-stop-a-worker-group"' in page
    assert "pkill -STOP" in page


@pytest.mark.django_db
def test_runbooks_page_refuses_others(client) -> None:
    response = client.get("/runbooks/")
    assert response.status_code == 302 and "login" in response["Location"]
    user = get_user_model().objects.create_user("bob", password="pw-for-bob")
    client.force_login(user)
    response = client.get("/runbooks/")
    assert response.status_code == 302 and "login" in response["Location"]
    assert "CeleryQueueNoWorker" not in response.content.decode()
