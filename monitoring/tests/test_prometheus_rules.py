"""prometheus.yml and the alert rules pass promtool; every alert has unit tests that fire it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring.prometheus import config as prometheus_config

CONFIG = prometheus_config.PROMETHEUS_YML
ALERTS = prometheus_config.ALERTS
ALERTS_TEST = ALERTS.with_name("alerts_test.yml")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PROMTOOL, *args], cwd=CONFIG.parent, capture_output=True, text=True, timeout=60
    )


def test_prometheus_yml_passes_promtool_check_config() -> None:
    # Syntax only: the web job's token file is compose's secret, present only in the container
    # (the rendered copy below is checked in full, token file included).
    result = promtool("check", "config", "--syntax-only", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_local_config_passes_promtool(tmp_path: Path) -> None:
    targets = {job: f"127.0.0.1:{9000 + i}" for i, job in enumerate(prometheus_config.JOBS)}
    token_file = tmp_path / "metrics-token"
    token_file.write_text("a-token")
    rendered = tmp_path / "prometheus.yml"
    rendered.write_text(prometheus_config.render_config(targets, web_token_file=token_file))
    result = promtool("check", "config", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "25 rules found" in result.stdout + result.stderr
    config = yaml.safe_load(rendered.read_text())
    assert {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    } == {job: [target] for job, target in targets.items()}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["web"]["authorization"]["credentials_file"] == str(token_file)
    assert [name for name, job in jobs.items() if "authorization" in job] == ["web"]
    # No Alertmanager given: alerts go nowhere, and its job is gone.
    assert "alerting" not in config


def test_rendered_config_sends_alerts_to_the_given_alertmanager(tmp_path: Path) -> None:
    targets = dict.fromkeys(prometheus_config.JOBS, "127.0.0.1:1")
    rendered = tmp_path / "prometheus.yml"
    text = prometheus_config.render_config({**targets, "alertmanager": "127.0.0.1:19093"})
    rendered.write_text(text)
    result = promtool("check", "config", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(text)
    assert config["alerting"]["alertmanagers"] == [
        {"static_configs": [{"targets": ["127.0.0.1:19093"]}]}
    ]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["alertmanager"]["static_configs"] == [{"targets": ["127.0.0.1:19093"]}]


def test_rendered_config_without_a_token_sends_none() -> None:
    targets = dict.fromkeys(prometheus_config.JOBS, "127.0.0.1:1")
    config = yaml.safe_load(prometheus_config.render_config(targets))
    assert not [job for job in config["scrape_configs"] if "authorization" in job]


def test_render_refuses_a_missing_or_unknown_job() -> None:
    with pytest.raises(ValueError, match=r"prometheus\.yml has"):
        prometheus_config.render_config({"web": "127.0.0.1:1"})
    targets = dict.fromkeys([*prometheus_config.JOBS, "redis"], "127.0.0.1:1")
    with pytest.raises(ValueError, match="redis"):
        prometheus_config.render_config(targets)


def test_alert_rules_pass_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_does_not() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(ALERTS.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    fired, silent = set(), set()
    for case in yaml.safe_load(ALERTS_TEST.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else silent).add(check["alertname"])
    assert alerts == {
        "CeleryTaskFailureRatioHigh",
        "CeleryTaskRuntimeP95High",
        "CeleryNoWorkerOnline",
        "CeleryQueueWaitHigh",
        "CeleryQueueWaitP95High",
        "CeleryWorkerHeartbeatStale",
        "CeleryQueueNoWorker",
        "CeleryBeatEntryOverdue",
        "EmailNotificationsBacklog",
        "EmailNotificationsFailing",
        "LiveEventsFailing",
        "LiveBrowserLagHigh",
        "StatisticsJobStale",
        "StatisticsJobNeverSucceeded",
        "RetentionJobStale",
        "RetentionBehind",
        "TableRowsOverBudget",
        "StorageMeasurementStale",
        "CentrifugoDown",
        "CentrifugoNodeDown",
        "CentrifugoLoadBalancerDown",
        "CentrifugoLoadBalancerNoNode",
        "ScrapeTargetDown",
        "Watchdog",
        "AlertmanagerNotificationsFailing",
    }
    assert alerts - fired == set(), "alerts never shown to fire"
    # The Watchdog always fires: that is its point.
    assert alerts - silent == {"Watchdog"}, "alerts never shown to stay silent"


def test_a_broken_rule_fails_the_unit_tests(tmp_path: Path) -> None:
    """The unit tests can fail: raise a threshold and the firing case breaks."""
    broken = ALERTS.read_text().replace("> 0.1\n", "> 0.9\n")
    assert broken != ALERTS.read_text()
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(ALERTS_TEST, tmp_path / "alerts_test.yml")
    result = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert result.returncode != 0
    assert "CeleryTaskFailureRatioHigh" in result.stdout + result.stderr
