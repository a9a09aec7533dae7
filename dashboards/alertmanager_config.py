"""Render Alertmanager's configuration (and its email template) from the environment.

Alertmanager's file cannot read environment variables, so `make up` (scripts/run-alertmanager.sh)
and compose (the `alertmanager-config` one-shot service) render it from the same variables as the
rest of the platform: where alert emails go (ALERT_EMAIL_TO), the SMTP server (ALERT_SMTP_*,
defaulting to EMAIL_HOST/EMAIL_PORT: make up's dev SMTP server), an optional webhook
(ALERT_WEBHOOK_URL) and the address the runbook links start with (PUBLIC_BASE_URL). A bad value
stops the rendering with a message naming the variable. No Django needed.

    python -m dashboards.alertmanager_config --output var/alertmanager/alertmanager.yml
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path

import yaml

TEMPLATE_NAME = "chatplatform.tmpl"
RECEIVER = "team"
# Labels that tell one occurrence of an alert from another (prometheus/alerts.yml): one email
# per queue, task, worker... rather than one per alert name.
GROUP_BY = ["alertname", "queue", "task", "worker", "entry", "stats_job", "job", "integration"]
# How long to wait before the first email of a group, between emails of a changed group, and
# before repeating an unchanged one. Critical alerts go out fast and repeat hourly; the Watchdog
# (always firing, proves the path works) once a day.
TIMINGS = {
    "critical": {"group_wait": "10s", "group_interval": "1m", "repeat_interval": "1h"},
    "warning": {"group_wait": "1m", "group_interval": "5m", "repeat_interval": "4h"},
    "watchdog": {"group_wait": "10s", "group_interval": "5m", "repeat_interval": "24h"},
}
QUEUE_WAIT_ALERTS = 'alertname=~"CeleryQueueWaitHigh|CeleryQueueWaitP95High"'
DEFAULTS = {
    "ALERT_EMAIL_TO": "alerts@chatplatform.local",
    "ALERT_EMAIL_FROM": "Chat Platform alerts <alerts@chatplatform.local>",
}
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """An environment variable has a value Alertmanager could not use; the message names it."""


def _get(env: Mapping[str, str], name: str, fallback: str | None = None, default: str = "") -> str:
    """`name` from env, else the variable `fallback` names, else `default` (empty counts unset)."""
    value = env.get(name, "").strip()
    if not value and fallback:
        value = env.get(fallback, "").strip()
    return value or default


def _bool(env: Mapping[str, str], name: str, fallback: str | None = None) -> bool:
    value = _get(env, name, fallback, "false").lower()
    if value not in TRUE | FALSE:
        raise ConfigError(f"{name}={value!r}: expected true or false")
    return value in TRUE


def _url(name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{name}={value!r}: expected an http:// or https:// URL")
    return value.rstrip("/")


def _address(name: str, value: str) -> str:
    _, address = parseaddr(value)
    if "@" not in address or " " in address:
        raise ConfigError(f"{name}={value!r}: expected an email address")
    return value


def base_url(env: Mapping[str, str]) -> str:
    """Where people reach the web app, for the runbook links (PUBLIC_BASE_URL, as the app)."""
    value = _get(env, "PUBLIC_BASE_URL")
    if not value:
        port = _get(env, "WEB_PORT", default="8000")
        if not port.isdigit():
            raise ConfigError(f"WEB_PORT={port!r}: expected a port number")
        value = f"http://127.0.0.1:{port}"
    return _url("PUBLIC_BASE_URL", value)


def email_config(env: Mapping[str, str]) -> dict:
    """The email receiver: SMTP from ALERT_SMTP_*, else the app's own EMAIL_* settings."""
    recipients = [a.strip() for a in _get(env, "ALERT_EMAIL_TO", default="").split(",")]
    recipients = [a for a in recipients if a] or [DEFAULTS["ALERT_EMAIL_TO"]]
    for address in recipients:
        _address("ALERT_EMAIL_TO", address)
    sender = _get(env, "ALERT_EMAIL_FROM", "DEFAULT_FROM_EMAIL", DEFAULTS["ALERT_EMAIL_FROM"])
    _address("ALERT_EMAIL_FROM", sender)
    host = _get(env, "ALERT_SMTP_HOST", "EMAIL_HOST", "127.0.0.1")
    port = _get(env, "ALERT_SMTP_PORT", "EMAIL_PORT", "1025")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"ALERT_SMTP_PORT={port!r}: expected a port number (1-65535)")
    config = {
        "to": ", ".join(recipients),
        "from": sender,
        "smarthost": f"{host}:{port}",
        "hello": _get(env, "ALERT_SMTP_HELLO", default="localhost"),
        # STARTTLS; Alertmanager speaks implicit TLS by itself on port 465.
        "require_tls": _bool(env, "ALERT_SMTP_REQUIRE_TLS", "EMAIL_USE_TLS"),
        "send_resolved": True,
        "headers": {"Subject": '{{ template "chatplatform.subject" . }}'},
        "text": '{{ template "chatplatform.text" . }}',
        "html": '{{ template "chatplatform.html" . }}',
    }
    user = _get(env, "ALERT_SMTP_USER", "EMAIL_HOST_USER")
    password = _get(env, "ALERT_SMTP_PASSWORD", "EMAIL_HOST_PASSWORD")
    if password and not user:
        raise ConfigError("ALERT_SMTP_PASSWORD is set but ALERT_SMTP_USER (EMAIL_HOST_USER) is not")
    if user:
        config["auth_username"] = user
        config["auth_password"] = password
    return config


def inhibit_rules(worker_queues: Mapping[str, list[str]] | None = None) -> list[dict]:
    """A cause mutes its consequences: with no worker for a queue, its tasks waiting too long is
    no news (same queue); with no worker at all, no queue's wait is; with Centrifugo down, live
    events fail. A stale heartbeat mutes the queues of the worker's group (`worker_queues`,
    group -> queues; the alert has the group, not the queues)."""
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
            "source_matchers": ['alertname="CentrifugoDown"'],
            "target_matchers": ['alertname="LiveEventsFailing"'],
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


def parse_worker_queues(spec: str) -> dict[str, list[str]]:
    """`group=queue+queue,...` as a mapping (settings_worker_queues writes it)."""
    result = {}
    for item in filter(None, spec.split(",")):
        group, _, queues = item.partition("=")
        if not group or not queues:
            raise ConfigError(f"worker queues {item!r}: expected group=queue+queue")
        result[group] = queues.split("+")
    return result


def settings_worker_queues() -> str:
    """settings.WORKER_GROUPS as `group=queue+queue,...` (loads the Django settings)."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
    from django.conf import settings

    groups = settings.WORKER_GROUPS
    return ",".join(f"{name}={'+'.join(group['queues'])}" for name, group in groups.items())


def render_config(
    env: Mapping[str, str],
    timings: Mapping[str, str] | None = None,
    worker_queues: Mapping[str, list[str]] | None = None,
) -> dict[str, str]:
    """{file name: text} of alertmanager.yml and its email template, to write side by side.

    `timings` (group_wait, group_interval, repeat_interval) replaces those of every route: the
    tests use 1 s ones.
    """
    receiver: dict = {"name": RECEIVER, "email_configs": [email_config(env)]}
    webhook = _get(env, "ALERT_WEBHOOK_URL")
    if webhook:
        url = _url("ALERT_WEBHOOK_URL", webhook)
        receiver["webhook_configs"] = [{"url": url, "send_resolved": True}]

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
            {"matchers": ['severity="critical"'], "receiver": RECEIVER, **timed("critical")},
            {"matchers": ['severity="warning"'], "receiver": RECEIVER, **timed("warning")},
        ],
    }
    config = {
        "route": route,
        "receivers": [receiver],
        "inhibit_rules": inhibit_rules(worker_queues),
        # Relative to this file: Alertmanager resolves it from the config's directory.
        "templates": [TEMPLATE_NAME],
    }
    header = (
        "# Rendered by dashboards/alertmanager_config.py from the environment; edit that file "
        "or the variables (.env.example, docs/monitoring.md) instead.\n"
    )
    template = EMAIL_TEMPLATE.replace("@BASE_URL@", base_url(env))
    return {
        "alertmanager.yml": header + yaml.safe_dump(config, sort_keys=False),
        TEMPLATE_NAME: template,
    }


def write_config(files: Mapping[str, str], output: Path) -> None:
    """Write alertmanager.yml as `output` and the template beside it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = output if name == "alertmanager.yml" else output.parent / name
        path.write_text(text)


# Go templates (Alertmanager's). The runbook_url annotation is a path of the web app
# (/runbooks/#anchor); @BASE_URL@ becomes PUBLIC_BASE_URL when rendered.
EMAIL_TEMPLATE = """\
{{ define "chatplatform.subject" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] \
{{ .CommonLabels.alertname }}{{ with .CommonLabels.queue }} (queue {{ . }}){{ end }} \
- Chat Platform
{{- end }}

{{ define "chatplatform.alert.text" -}}
{{ .Annotations.summary }}
{{ .Annotations.description }}
Started: {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}\
{{ if eq .Status "resolved" }}, resolved: {{ .EndsAt.Format "2006-01-02 15:04:05 MST" }}{{ end }}
Labels: {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}
{{ with .Annotations.runbook_url }}Runbook: @BASE_URL@{{ . }}{{ end }}
{{- end }}

{{ define "chatplatform.silence" -}}
amtool --alertmanager.url={{ .ExternalURL }} silence add \
{{ range .GroupLabels.SortedPairs }}{{ .Name }}="{{ .Value }}" {{ end }}\
--duration=2h --comment="who: why"
{{- end }}

{{ define "chatplatform.text" -}}
{{ if eq .Status "firing" }}FIRING{{ else }}RESOLVED{{ end }}: {{ .CommonLabels.alertname }}
{{ range .Alerts }}
{{ template "chatplatform.alert.text" . }}
{{ end }}
To silence this alert for 2 hours:
  {{ template "chatplatform.silence" . }}
List the alerts: amtool --alertmanager.url={{ .ExternalURL }} alert query
{{- end }}

{{ define "chatplatform.html" -}}
<!doctype html>
<html><body style="font-family: sans-serif">
<h2>{{ if eq .Status "firing" }}Firing{{ else }}Resolved{{ end }}: \
{{ .CommonLabels.alertname }}</h2>
{{ range .Alerts }}
<h3>{{ .Annotations.summary }}</h3>
<p>{{ .Annotations.description }}</p>
<p>Started: {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}\
{{ if eq .Status "resolved" }}, resolved: \
{{ .EndsAt.Format "2006-01-02 15:04:05 MST" }}{{ end }}</p>
<p>Labels: {{ range .Labels.SortedPairs }}<code>{{ .Name }}={{ .Value }}</code> {{ end }}</p>
{{ with .Annotations.runbook_url }}<p><a href="@BASE_URL@{{ . }}">Runbook</a>: \
@BASE_URL@{{ . }}</p>{{ end }}
{{ end }}
<p>To silence this alert for 2 hours:<br><code>{{ template "chatplatform.silence" . }}</code></p>
<p>List the alerts: <code>amtool --alertmanager.url={{ .ExternalURL }} alert query</code></p>
</body></html>
{{- end }}
"""


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, type=Path, help="alertmanager.yml to write")
    for name in ("group-wait", "group-interval", "repeat-interval"):
        parser.add_argument(f"--{name}", help=f"{name} of every route (tests: 1s)")
    parser.add_argument(
        "--worker-queues", default="", metavar="GROUP=QUEUE+QUEUE,...", help="for inhibition"
    )
    parser.add_argument(
        "--worker-queues-from-settings",
        action="store_true",
        help="take the worker groups' queues from Django's settings.WORKER_GROUPS",
    )
    args = parser.parse_args(argv)
    if args.worker_queues_from_settings:
        args.worker_queues = settings_worker_queues()
    timings = {
        key: value
        for key in ("group_wait", "group_interval", "repeat_interval")
        if (value := getattr(args, key))
    }
    try:
        files = render_config(
            os.environ if env is None else env, timings, parse_worker_queues(args.worker_queues)
        )
    except ConfigError as exc:
        print(f"alertmanager config: {exc}", file=sys.stderr)
        return 2
    write_config(files, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
