"""Render Alertmanager's configuration (and its email template) from the environment.

Alertmanager's file cannot read environment variables, so `make up` (scripts/run-alertmanager.sh)
and compose (the `alertmanager-config` one-shot service) render it from the same variables as the
rest of the platform (read and checked by monitoring/alertmanager/env.py): who gets the emails,
through which SMTP server, optional webhooks, and the address the runbook links start with. This
module decides what Alertmanager does with them: routes, receivers, inhibitions. The emails' words
are monitoring/alertmanager/email.tmpl, copied beside the config. The file holds the SMTP
password: it is written readable by its owner only. No Django needed.

    python -m monitoring.alertmanager.config --output var/alertmanager/alertmanager.yml
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from monitoring.alertmanager import env as alertmanager_env
from monitoring.alertmanager.env import ConfigError

TEMPLATE = Path(__file__).with_name("email.tmpl")
# The copy's name beside the rendered config (what alertmanager.yml's `templates` names).
TEMPLATE_NAME = "alertmanager_email.tmpl"
RECEIVER = "team"
# Critical alerts' receiver, when ALERT_CRITICAL_EMAIL_TO or ALERT_CRITICAL_WEBHOOK_URL is set.
CRITICAL_RECEIVER = "team-critical"
# Labels that tell one occurrence of an alert from another (monitoring/prometheus/alerts.yml):
# one email per queue, task, worker... rather than one per alert name.
GROUP_BY = [
    "alertname",
    "queue",
    "task",
    "worker",
    "entry",
    "stats_job",
    "table",
    "job",
    "integration",
]
# How long to wait before the first email of a group, between emails of a changed group, and
# before repeating an unchanged one. Critical alerts go out fast and repeat hourly; the Watchdog
# (always firing, proves the path works) once a day.
TIMINGS = {
    "critical": {"group_wait": "10s", "group_interval": "1m", "repeat_interval": "1h"},
    "warning": {"group_wait": "1m", "group_interval": "5m", "repeat_interval": "4h"},
    "watchdog": {"group_wait": "10s", "group_interval": "5m", "repeat_interval": "24h"},
}
QUEUE_WAIT_ALERTS = 'alertname=~"CeleryQueueWaitHigh|CeleryQueueWaitP95High"'


def email_config(env: Mapping[str, str], *to_variables: str) -> dict:
    """An email to the addresses of the first of `to_variables` set, through alertmanager_env's
    SMTP server, in the template's words."""
    smtp = alertmanager_env.smtp(env)
    config = {
        "to": ", ".join(alertmanager_env.recipients(env, *to_variables)),
        "from": alertmanager_env.sender(env),
        "smarthost": f"{smtp.host}:{smtp.port}",
        "hello": smtp.hello,
        "require_tls": smtp.require_tls,
        "send_resolved": True,
        "headers": {"Subject": '{{ template "chatplatform.subject" . }}'},
        "text": '{{ template "chatplatform.text" . }}',
        "html": '{{ template "chatplatform.html" . }}',
    }
    if smtp.user:
        config["auth_username"] = smtp.user
        config["auth_password"] = smtp.password
    return config


def receivers(env: Mapping[str, str]) -> list[dict]:
    """The team's receiver and, when ALERT_CRITICAL_EMAIL_TO or ALERT_CRITICAL_WEBHOOK_URL is set,
    one for critical alerts (each of the two falling back to the team's own)."""

    def receiver(name: str, emails: tuple[str, ...], webhooks: tuple[str, ...]) -> dict:
        result: dict = {"name": name, "email_configs": [email_config(env, *emails)]}
        if url := alertmanager_env.webhook_url(env, *webhooks):
            result["webhook_configs"] = [{"url": url, "send_resolved": True}]
        return result

    team = receiver(RECEIVER, ("ALERT_EMAIL_TO",), ("ALERT_WEBHOOK_URL",))
    if not alertmanager_env.pick(env, "ALERT_CRITICAL_EMAIL_TO", "ALERT_CRITICAL_WEBHOOK_URL")[1]:
        return [team]
    critical = receiver(
        CRITICAL_RECEIVER,
        ("ALERT_CRITICAL_EMAIL_TO", "ALERT_EMAIL_TO"),
        ("ALERT_CRITICAL_WEBHOOK_URL", "ALERT_WEBHOOK_URL"),
    )
    return [team, critical]


def inhibit_rules(worker_queues: Mapping[str, list[str]] | None = None) -> list[dict]:
    """A cause mutes its consequences: with no worker for a queue, its tasks waiting too long is
    no news (same queue); with no worker at all, no queue's wait is; with every Centrifugo node
    or their load balancer down, or no node behind it, live events fail, and with every node down
    each node is down and the balancer has none to send to.
    A stale heartbeat mutes the queues of the worker's group (`worker_queues`, group -> queues;
    the alert has the group, not the queues)."""
    rules = [
        {
            "source_matchers": ['alertname="CeleryQueueNoWorker"'],
            "target_matchers": [QUEUE_WAIT_ALERTS],
            "equal": ["queue"],
        },
        {
            "source_matchers": ['alertname="CeleryNoWorkerOnline"'],
            "target_matchers": [QUEUE_WAIT_ALERTS],
        },
        {
            "source_matchers": [
                'alertname=~"CentrifugoDown|CentrifugoLoadBalancerDown|CentrifugoLoadBalancerNoNode"'
            ],
            "target_matchers": ['alertname="LiveEventsFailing"'],
        },
        # The last node down (make up's only one) is CentrifugoDown's news, not a lost capacity,
        # and so is a balancer left with no node.
        {
            "source_matchers": ['alertname="CentrifugoDown"'],
            "target_matchers": ['alertname=~"CentrifugoNodeDown|CentrifugoLoadBalancerNoNode"'],
        },
        # A frozen or stuck worker (the SIGSTOP drill) also stops answering on its metrics port:
        # the heartbeat alert says why, the scrape failure of the same group is no news.
        {
            "source_matchers": ['alertname="CeleryWorkerHeartbeatStale"'],
            "target_matchers": ['alertname="ScrapeTargetDown"', 'job="celery-workers"'],
            "equal": ["group"],
        },
    ]
    for group, queues in sorted((worker_queues or {}).items()):
        rules.append(
            {
                "source_matchers": ['alertname="CeleryWorkerHeartbeatStale"', f'group="{group}"'],
                "target_matchers": [QUEUE_WAIT_ALERTS, f'queue=~"{"|".join(queues)}"'],
            }
        )
    return rules


def settings_worker_queues() -> dict[str, list[str]]:
    """settings.WORKER_GROUPS as {group: its queues} (loads the Django settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
    from django.conf import settings

    return {name: list(group["queues"]) for name, group in settings.WORKER_GROUPS.items()}


def render_config(
    env: Mapping[str, str],
    timings: Mapping[str, str] | None = None,
    worker_queues: Mapping[str, list[str]] | None = None,
) -> dict[str, str]:
    """{file name: text} of alertmanager.yml and its email template, to write side by side.

    `timings` (group_wait, group_interval, repeat_interval) replaces those of every route: the
    tests use 1 s ones.
    """
    all_receivers = receivers(env)
    critical = all_receivers[-1]["name"]

    def timed(kind: str) -> dict:
        return {**TIMINGS[kind], **(timings or {})}

    route = {
        "receiver": RECEIVER,
        "group_by": GROUP_BY,
        **timed("warning"),
        "routes": [
            {
                "matchers": ['alertname="Watchdog"'],
                "receiver": RECEIVER,
                "group_by": ["alertname"],
                **timed("watchdog"),
            },
            {"matchers": ['severity="critical"'], "receiver": critical, **timed("critical")},
            {"matchers": ['severity="warning"'], "receiver": RECEIVER, **timed("warning")},
        ],
    }
    config = {
        "route": route,
        "receivers": all_receivers,
        "inhibit_rules": inhibit_rules(worker_queues),
        # Relative to this file: Alertmanager resolves it from the config's directory.
        "templates": [TEMPLATE_NAME],
    }
    header = (
        "# Rendered by monitoring/alertmanager/config.py from the environment; edit that file, "
        "its email.tmpl or the variables (.env.example, docs/monitoring.md).\n"
    )
    template = TEMPLATE.read_text().replace("@BASE_URL@", alertmanager_env.base_url(env))
    return {
        "alertmanager.yml": header + yaml.safe_dump(config, sort_keys=False),
        TEMPLATE_NAME: template,
    }


def write_config(files: Mapping[str, str], output: Path, mode: int = 0o600) -> None:
    """Write alertmanager.yml as `output` and the template beside it, with `mode` (the config
    holds the SMTP password: owner only by default; compose adds its group, see --group-readable).
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = output if name == "alertmanager.yml" else output.parent / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)  # an existing file keeps its old mode through O_CREAT
        with os.fdopen(fd, "w") as file:
            file.write(text)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.alertmanager.config", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--output", required=True, type=Path, help="alertmanager.yml to write")
    parser.add_argument(
        "--worker-queues-from-settings",
        action="store_true",
        help="mute the queues of a stale worker group, read from settings.WORKER_GROUPS",
    )
    parser.add_argument(
        "--group-readable",
        action="store_true",
        help="mode 0640, not 0600: Alertmanager runs as another user of the file's group (compose)",
    )
    args = parser.parse_args(argv)
    worker_queues = settings_worker_queues() if args.worker_queues_from_settings else None
    try:
        files = render_config(os.environ if env is None else env, worker_queues=worker_queues)
    except ConfigError as exc:
        print(f"alertmanager config: {exc}", file=sys.stderr)
        return 2
    write_config(files, args.output, 0o640 if args.group_readable else 0o600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
