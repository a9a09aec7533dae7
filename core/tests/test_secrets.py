"""With DJANGO_DEBUG off, a process refuses to start on an empty, placeholder or short secret and
names the variable; with DEBUG on (make up) the development defaults keep working.

Each case starts the real command in a subprocess, as an operator would: `manage.py check`,
Flower's launcher (`python -m launchers.flower`), `manage.py seed_demo`.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import testing
from testing import manage_check, production_env

ROOT = Path(__file__).resolve().parents[2]


def real() -> str:
    return secrets.token_urlsafe(48)


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


REFUSED = [
    ("DJANGO_SECRET_KEY", "change-me"),
    ("DJANGO_SECRET_KEY", ""),
    ("DJANGO_SECRET_KEY", "insecure-development-key-change-me"),
    ("DJANGO_SECRET_KEY", "too-short-but-no-placeholder"),
    ("CENTRIFUGO_HTTP_API_KEY", "change-me"),
    ("CENTRIFUGO_HTTP_API_KEY", ""),
    ("CENTRIFUGO_TOKEN_HMAC_SECRET_KEY", "change-me"),
    ("CENTRIFUGO_TOKEN_HMAC_SECRET_KEY", ""),
    # 25 bytes, today's development default: anyone could brute-force a subscription key.
    ("CENTRIFUGO_TOKEN_HMAC_SECRET_KEY", "x7Rq2LmWv9TzKp4NcYb8HsJd3"),
    ("EMAIL_HOST_PASSWORD", "change-me"),
    # /metrics shows platform-wide figures: with DEBUG off it is never open.
    ("METRICS_BEARER_TOKEN", ""),
    ("METRICS_BEARER_TOKEN", "change-me"),
]


@pytest.mark.parametrize(("name", "value"), REFUSED)
def test_django_refuses_to_start_with_debug_off_naming_the_variable(name: str, value: str):
    result = manage_check(**{name: value})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"django.core.exceptions.ImproperlyConfigured: {name} must ")
    if len(value) > len("change-me"):
        assert value not in message  # a secret, even a bad one, is never echoed


def test_django_starts_with_real_secrets_and_no_smtp_password():
    result = manage_check()
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_on_keeps_the_development_defaults_working():
    """make up: DEBUG on, and an empty secret means the development default."""
    env = production_env(
        DJANGO_DEBUG="true",
        DJANGO_SECRET_KEY="",
        CENTRIFUGO_HTTP_API_KEY="change-me",
        CENTRIFUGO_TOKEN_HMAC_SECRET_KEY="",
        PUBLIC_BASE_URL="",
        METRICS_BEARER_TOKEN="",
    )
    assert run(["manage.py", "check"], env).returncode == 0


def test_the_development_token_secret_is_long_enough_for_pyjwt():
    """PyJWT warns about an HS256 key under 32 bytes; warnings are errors here."""
    env = production_env(DJANGO_DEBUG="true", CENTRIFUGO_TOKEN_HMAC_SECRET_KEY="")
    code = (
        "import warnings, jwt; from django.conf import settings;"
        " warnings.simplefilter('error');"
        " jwt.encode({'sub': '1'}, settings.CENTRIFUGO_TOKEN_HMAC_SECRET_KEY, algorithm='HS256')"
    )
    result = run(["manage.py", "shell", "-c", code], env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("password", ["change-me", "", "flower-change-me"])
def test_flower_refuses_to_start_on_a_placeholder_password(password: str):
    port = testing.free_port()
    argv = ["-m", "launchers.flower", f"--port={port}", "--address=127.0.0.1"]
    result = run(argv, production_env(FLOWER_PASSWORD=password))
    assert result.returncode != 0
    assert "refusing to start Flower: FLOWER_PASSWORD must be set to a real secret" in (
        result.stderr
    )
    assert not testing.port_open(port)


@pytest.mark.slow
def test_flower_started_by_the_launcher_wants_its_password(redis_service):
    """With DEBUG off, the launcher's Flower answers FLOWER_USER/FLOWER_PASSWORD, nobody else."""
    env = production_env(CELERY_BROKER_URL=redis_service.url)
    with testing.FlowerProcess(env, user="ops", password=real()) as flower:
        url = f"http://127.0.0.1:{flower.port}/api/workers"
        for headers in ({}, testing.basic_auth("ops", "change-me")):
            request = urllib.request.Request(url, headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)  # noqa: S310 - local
            assert refused.value.code == 401
        assert isinstance(flower.api("/api/workers"), dict)  # 200, with the right password


def test_seed_demo_refuses_a_placeholder_demo_password(tmp_path: Path):
    """The demo users' password is a login to a real deployment (alice is staff)."""
    env = production_env(DEMO_PASSWORD="change-me", DATABASE_URL=f"sqlite:///{tmp_path / 'db'}")
    result = run(["manage.py", "seed_demo"], env)
    assert result.returncode != 0
    assert "DEMO_PASSWORD must be set to a real secret" in result.stderr
