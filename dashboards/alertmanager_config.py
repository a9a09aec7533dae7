"""Render Alertmanager's configuration (and its email template) from the environment.

Alertmanager's file cannot read environment variables, so `make up` (scripts/run-alertmanager.sh)
and compose (the `alertmanager-config` one-shot service) render it from the same variables as the
rest of the platform: where alert emails go (ALERT_EMAIL_TO; critical ones to
ALERT_CRITICAL_EMAIL_TO if set), the SMTP server (ALERT_SMTP_*, or, when ALERT_SMTP_HOST is empty,
the app's whole EMAIL_* set: make up's dev SMTP server), optional webhooks (ALERT_WEBHOOK_URL,
ALERT_CRITICAL_WEBHOOK_URL) and the address the runbook links start with (PUBLIC_BASE_URL). A bad
value stops the rendering with a message naming the variable. The file holds the SMTP password:
it is written readable by its owner only. No Django needed.

    python -m dashboards.alertmanager_config --output var/alertmanager/alertmanager.yml
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path

import yaml

TEMPLATE_NAME = "chatplatform.tmpl"
RECEIVER = "team"
# Critical alerts' receiver, when ALERT_CRITICAL_EMAIL_TO or ALERT_CRITICAL_WEBHOOK_URL is set.
CRITICAL_RECEIVER = "team-critical"
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


# The SMTP settings of Alertmanager's own server, and the app's settings they stand for.
SMTP_VARIABLES = {
    "HOST": "EMAIL_HOST",
    "PORT": "EMAIL_PORT",
    "USER": "EMAIL_HOST_USER",
    "PASSWORD": "EMAIL_HOST_PASSWORD",
    "REQUIRE_TLS": "EMAIL_USE_TLS",
}


def smtp_settings(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """{HOST, PORT, USER, PASSWORD, REQUIRE_TLS: value}, and the variables they came from.

    Taken whole from ALERT_SMTP_* when ALERT_SMTP_HOST is set, else whole from the app's EMAIL_*:
    never mixed, so the app's login is not sent to another server (ALERT_SMTP_HOST alone means
    that server needs no login). ALERT_SMTP_* set without the host would be ignored: refused.
    """
    own = {key: f"ALERT_SMTP_{key}" for key in SMTP_VARIABLES}
    if _get(env, "ALERT_SMTP_HOST"):
        values = {key: _get(env, name) for key, name in own.items()}
        if not values["PORT"]:
            raise ConfigError("ALERT_SMTP_HOST is set but ALERT_SMTP_PORT is empty: set both")
        return values, own
    stray = [name for name in own.values() if _get(env, name)]
    if stray:
        raise ConfigError(
            f"{', '.join(stray)} set but ALERT_SMTP_HOST is empty: set it too, or leave every "
            "ALERT_SMTP_* empty to use the EMAIL_* settings"
        )
    values = {key: _get(env, name) for key, name in SMTP_VARIABLES.items()}
    values["HOST"] = values["HOST"] or "127.0.0.1"
    values["PORT"] = values["PORT"] or "1025"
    return values, SMTP_VARIABLES


def email_config(env: Mapping[str, str], to_variable: str = "ALERT_EMAIL_TO") -> dict:
    """An email receiver to the addresses of `to_variable`: SMTP from smtp_settings."""
    recipients = [a.strip() for a in _get(env, to_variable, "ALERT_EMAIL_TO").split(",")]
    recipients = [a for a in recipients if a] or [DEFAULTS["ALERT_EMAIL_TO"]]
    for address in recipients:
        _address(to_variable, address)
    sender = _get(env, "ALERT_EMAIL_FROM", "DEFAULT_FROM_EMAIL", DEFAULTS["ALERT_EMAIL_FROM"])
    _address("ALERT_EMAIL_FROM", sender)
    smtp, names = smtp_settings(env)
    port = smtp["PORT"]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{names['PORT']}={port!r}: expected a port number (1-65535)")
    tls = smtp["REQUIRE_TLS"].lower() or "false"
    if tls not in TRUE | FALSE:
        raise ConfigError(f"{names['REQUIRE_TLS']}={tls!r}: expected true or false")
    config = {
        "to": ", ".join(recipients),
        "from": sender,
        "smarthost": f"{smtp['HOST']}:{port}",
        "hello": _get(env, "ALERT_SMTP_HELLO", default="localhost"),
        # STARTTLS; Alertmanager speaks implicit TLS by itself on port 465.
        "require_tls": tls in TRUE,
        "send_resolved": True,
        "headers": {"Subject": '{{ template "chatplatform.subject" . }}'},
        "text": '{{ template "chatplatform.text" . }}',
        "html": '{{ template "chatplatform.html" . }}',
    }
    if smtp["PASSWORD"] and not smtp["USER"]:
        raise ConfigError(f"{names['PASSWORD']} is set but {names['USER']} is not")
    if smtp["USER"]:
        config["auth_username"] = smtp["USER"]
        config["auth_password"] = smtp["PASSWORD"]
    return config


def receivers(env: Mapping[str, str]) -> list[dict]:
    """The team's receiver and, when ALERT_CRITICAL_EMAIL_TO or ALERT_CRITICAL_WEBHOOK_URL is set,
    one for critical alerts (each of the two falling back to the team's own)."""

    def receiver(name: str, to: str, webhook: str) -> dict:
        result: dict = {"name": name, "email_configs": [email_config(env, to)]}
        url = _get(env, webhook, "ALERT_WEBHOOK_URL")
        if url:
            name_of_url = webhook if _get(env, webhook) else "ALERT_WEBHOOK_URL"
            result["webhook_configs"] = [{"url": _url(name_of_url, url), "send_resolved": True}]
        return result

    team = receiver(RECEIVER, "ALERT_EMAIL_TO", "ALERT_WEBHOOK_URL")
    if not (_get(env, "ALERT_CRITICAL_EMAIL_TO") or _get(env, "ALERT_CRITICAL_WEBHOOK_URL")):
        return [team]
    critical = receiver(CRITICAL_RECEIVER, "ALERT_CRITICAL_EMAIL_TO", "ALERT_CRITICAL_WEBHOOK_URL")
    return [team, critical]


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
        "# Rendered by dashboards/alertmanager_config.py from the environment; edit that file "
        "or the variables (.env.example, docs/monitoring.md) instead.\n"
    )
    template = EMAIL_TEMPLATE.replace("@BASE_URL@", base_url(env))
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
    parser.add_argument(
        "--group-readable",
        action="store_true",
        help="mode 0640, not 0600: Alertmanager runs as another user of the file's group (compose)",
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
    write_config(files, args.output, 0o640 if args.group_readable else 0o600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
