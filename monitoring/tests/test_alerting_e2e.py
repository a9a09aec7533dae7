"""Alerts reach a person: Prometheus -> Alertmanager -> an email in a real SMTP inbox.

A real Prometheus (make up's rendering of prometheus.yml, 1 s intervals, a copy of the real rules
with `for` cut to a second) scrapes the web app, which reads the email worker's heartbeat from a
real Redis; it sends its alerts to a real Alertmanager whose config is the one
monitoring/alertmanager/config.py renders (1 s group timings), which emails a real SMTP server.
Stopping the email worker must bring the CeleryQueueNoWorker email with its runbook link, and
starting one the resolved email; a task left waiting in the queue meanwhile fires the queue-wait
alert, which Alertmanager must hold back (inhibited by its cause).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import testing
from chatplatform.celery import app as celery_app
from monitoring.alertmanager import config as alertmanager_config
from monitoring.prometheus import config as prometheus_config
from monitoring.tests.support import forget_earlier_tests, local_prometheus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The rules this test drives; the others (Flower, Centrifugo, statistics...) have no service here
# and would only add emails.
RULES = {"Watchdog", "CeleryQueueNoWorker", "CeleryQueueWaitHigh"}
FAST = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}


def fast_rules(tmp_path: Path) -> Path:
    """A copy of monitoring/prometheus/alerts.yml with RULES only, each firing after 1 s."""
    groups = yaml.safe_load(prometheus_config.ALERTS.read_text())["groups"]
    rules = [
        {**rule, "for": "1s"} if "for" in rule else rule
        for group in groups
        for rule in group["rules"]
        if rule.get("alert") in RULES
    ]
    assert {rule["alert"] for rule in rules} == RULES
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "test", "rules": rules}]}))
    return path


@pytest.fixture
def stack(redis_service, live_server, worker_env, settings, tmp_path) -> Iterator[dict]:
    """SMTP, Alertmanager, the email worker and Prometheus, on free ports."""
    # A task of the email queue is late after 1 s (the web app in this process reads it).
    settings.QUEUE_WAIT_BUDGETS = {**settings.QUEUE_WAIT_BUDGETS, "email": 1}
    forget_earlier_tests()
    started: list[testing.ManagedProcess] = []
    try:
        smtp = testing.SmtpProcess()
        started.append(smtp.start())
        files = alertmanager_config.render_config(
            {
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp.port),
                "ALERT_EMAIL_TO": "oncall@example.com",
                "PUBLIC_BASE_URL": live_server.url,
            },
            timings=FAST,
            worker_queues={"email": ["email"]},
        )
        alertmanager = testing.AlertmanagerProcess(files)
        started.append(alertmanager.start())
        worker = testing.WorkerProcess(worker_env(**smtp.django_env), group="email", name="email")
        started.append(worker.start())
        # Alerts that fire before Prometheus has found the Alertmanager (the Watchdog) are sent
        # again after the resend delay: 1 s, not a minute.
        prometheus = local_prometheus(
            settings,
            tmp_path,
            live_server.url,
            {"alertmanager": f"127.0.0.1:{alertmanager.port}"},
            rule_files=[fast_rules(tmp_path)],
            extra_args=["--rules.alert.resend-delay=1s"],
        )
        started.append(prometheus.start())
        yield {
            "smtp": smtp,
            "alertmanager": alertmanager,
            "prometheus": prometheus,
            "worker": worker,
            "web": live_server.url,
        }
    finally:
        for proc in reversed(started):
            proc.stop()


def emails(smtp: testing.SmtpProcess, *words: str) -> list:
    """The received emails whose subject has all `words`."""
    return [mail for mail in smtp.inbox.messages() if all(w in mail.subject for w in words)]


def wait_email(stack: dict, *words: str) -> list:
    """The emails whose subject has all `words`, once one arrives; on timeout, what did arrive
    and Alertmanager's log say why."""
    try:
        return testing.wait_until(lambda: emails(stack["smtp"], *words), 60, f"email {words}")
    except TimeoutError as exc:
        subjects = [mail.subject for mail in stack["smtp"].inbox.messages()]
        raise AssertionError(
            f"{exc}\nreceived: {subjects}\nalertmanager:\n{stack['alertmanager'].log_tail()}"
            f"\nprometheus alerts: {stack['prometheus'].api('alerts')}"
        ) from None


def firing_in_prometheus(prometheus: testing.PrometheusProcess, name: str, queue: str) -> bool:
    return any(
        alert["labels"]["alertname"] == name
        and alert["labels"].get("queue") == queue
        and alert["state"] == "firing"
        for alert in prometheus.api("alerts")["alerts"]
    )


def test_stopped_worker_emails_the_alert_then_its_resolution(stack: dict) -> None:
    smtp, alertmanager, prometheus = stack["smtp"], stack["alertmanager"], stack["prometheus"]
    worker: testing.WorkerProcess = stack["worker"]

    # The Watchdog proves the whole path before anything breaks.
    watchdog = wait_email(stack, "FIRING", "Watchdog")
    assert watchdog[0].to == "oncall@example.com"
    # The email worker serves its queue: no alert for it.
    assert not emails(smtp, "CeleryQueueNoWorker", "queue email")

    worker.stop()
    [mail] = wait_email(stack, "FIRING", "CeleryQueueNoWorker", "queue email")
    assert mail.to == "oncall@example.com"
    assert "No worker consumes queue email" in mail.text
    assert f"Runbook: {stack['web']}/runbooks/#celeryqueuenoworker" in mail.text
    assert f'href="{stack["web"]}/runbooks/#celeryqueuenoworker"' in mail.html
    # How to silence it: the group's labels (any web replica), not one scrape target's.
    silence = f"amtool --alertmanager.url={alertmanager.url} silence add "
    silence += 'alertname="CeleryQueueNoWorker" job="web" queue="email" --duration=2h'
    assert silence in mail.text

    # A task waits in the queue nobody serves: the wait alert fires in Prometheus, but
    # Alertmanager holds it back, inhibited by CeleryQueueNoWorker of the same queue.
    # A name no worker knows: the restarted worker drops it (logged) instead of running it.
    celery_app.send_task("alerting_e2e.waits", queue="email")
    testing.wait_until(
        lambda: firing_in_prometheus(prometheus, "CeleryQueueWaitHigh", "email"),
        60,
        "CeleryQueueWaitHigh (email) to fire in Prometheus",
    )

    def inhibited() -> list:
        alerts = alertmanager.api("alerts", filter='alertname="CeleryQueueWaitHigh"')
        return [a for a in alerts if a["labels"].get("queue") == "email"]

    [wait_alert] = testing.wait_until(inhibited, 30, "Alertmanager to receive the wait alert")
    assert wait_alert["status"]["state"] == "suppressed"
    assert wait_alert["status"]["inhibitedBy"]
    # Several group intervals (1 s) later, still no email about the wait.
    time.sleep(3)
    assert not emails(smtp, "CeleryQueueWaitHigh")

    worker.start()
    [resolved] = wait_email(stack, "RESOLVED", "CeleryQueueNoWorker", "queue email")
    assert f"{stack['web']}/runbooks/#celeryqueuenoworker" in resolved.text
