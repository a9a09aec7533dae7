"""The alerting settings read from the environment, checked before Alertmanager sees them.

Alertmanager would start with a bad address or port and fail only when an alert is due; reading
them here stops the rendering at once, with a message naming the variable to fix. The names and
defaults are documented in docs/monitoring.md and .env.example.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr

DEFAULT_EMAIL_TO = "alerts@chatplatform.local"
DEFAULT_EMAIL_FROM = "Chat Platform alerts <alerts@chatplatform.local>"
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
# The SMTP settings of Alertmanager's own server, and the app's settings they stand for.
SMTP_VARIABLES = {
    "HOST": "EMAIL_HOST",
    "PORT": "EMAIL_PORT",
    "USER": "EMAIL_HOST_USER",
    "PASSWORD": "EMAIL_HOST_PASSWORD",
    "REQUIRE_TLS": "EMAIL_USE_TLS",
}


class ConfigError(ValueError):
    """An environment variable has a value Alertmanager could not use; the message names it."""


def pick(env: Mapping[str, str], *names: str) -> tuple[str, str]:
    """The first of `names` set (an empty value counts unset) and its value; else ("", "").

    The name comes along so that an error blames the variable the value came from.
    """
    for name in names:
        if value := env.get(name, "").strip():
            return name, value
    return "", ""


def webhook_url(env: Mapping[str, str], *names: str) -> str:
    """The first of `names` set, checked as an http(s) URL; "" when none is."""
    name, value = pick(env, *names)
    return check_url(name, value) if value else ""


def check_url(name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{name}={value!r}: expected an http:// or https:// URL")
    return value.rstrip("/")


def check_address(name: str, value: str) -> str:
    _, address = parseaddr(value)
    if "@" not in address or " " in address:
        raise ConfigError(f"{name}={value!r}: expected an email address")
    return value


def recipients(env: Mapping[str, str], *names: str) -> list[str]:
    """The comma-separated addresses of the first of `names` set, else the default inbox."""
    name, value = pick(env, *names)
    addresses = [a.strip() for a in value.split(",") if a.strip()] or [DEFAULT_EMAIL_TO]
    return [check_address(name, address) for address in addresses]


def sender(env: Mapping[str, str]) -> str:
    name, value = pick(env, "ALERT_EMAIL_FROM", "DEFAULT_FROM_EMAIL")
    return check_address(name, value) if value else DEFAULT_EMAIL_FROM


def base_url(env: Mapping[str, str]) -> str:
    """Where people reach the web app, for the runbook links (PUBLIC_BASE_URL, as the app)."""
    _, value = pick(env, "PUBLIC_BASE_URL")
    if not value:
        _, port = pick(env, "WEB_PORT")
        port = port or "8000"
        if not port.isdigit():
            raise ConfigError(f"WEB_PORT={port!r}: expected a port number")
        value = f"http://127.0.0.1:{port}"
    return check_url("PUBLIC_BASE_URL", value)


@dataclass(frozen=True)
class Smtp:
    """The server Alertmanager emails through."""

    host: str
    port: int
    user: str
    password: str
    require_tls: bool  # STARTTLS; Alertmanager speaks implicit TLS by itself on port 465
    hello: str


def smtp(env: Mapping[str, str]) -> Smtp:
    """The SMTP server, taken whole from ALERT_SMTP_* when ALERT_SMTP_HOST is set, else whole
    from the app's EMAIL_* (make up's dev server by default).

    Never mixed, so the app's login is not sent to another server (ALERT_SMTP_HOST alone means
    that server needs no login). ALERT_SMTP_* set without the host would be ignored: refused.
    """
    own = {key: f"ALERT_SMTP_{key}" for key in SMTP_VARIABLES}
    if pick(env, "ALERT_SMTP_HOST")[1]:
        names = own
        if not pick(env, own["PORT"])[1]:
            raise ConfigError("ALERT_SMTP_HOST is set but ALERT_SMTP_PORT is empty: set both")
    else:
        if stray := [name for name in own.values() if pick(env, name)[1]]:
            raise ConfigError(
                f"{', '.join(stray)} set but ALERT_SMTP_HOST is empty: set it too, or leave every "
                "ALERT_SMTP_* empty to use the EMAIL_* settings"
            )
        names = SMTP_VARIABLES
    values = {key: pick(env, name)[1] for key, name in names.items()}
    port = values["PORT"] or "1025"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{names['PORT']}={port!r}: expected a port number (1-65535)")
    tls = values["REQUIRE_TLS"].lower()
    if tls not in TRUE | FALSE:
        raise ConfigError(f"{names['REQUIRE_TLS']}={tls!r}: expected true or false")
    if values["PASSWORD"] and not values["USER"]:
        raise ConfigError(f"{names['PASSWORD']} is set but {names['USER']} is not")
    return Smtp(
        host=values["HOST"] or "127.0.0.1",
        port=int(port),
        user=values["USER"],
        password=values["PASSWORD"],
        require_tls=tls in TRUE,
        hello=pick(env, "ALERT_SMTP_HELLO")[1] or "localhost",
    )
