"""Test tooling, outside the app packages: real services in child processes, and the pytest
plugin (`testing.plugin`, loaded by the root conftest) whose fixtures start them.

Production code never imports this package (an import-linter contract in pyproject.toml).
"""

from .processes import (
    BASE_DIR,
    ManagedProcess,
    answers,
    database_url,
    django_env,
    free_port,
    port_open,
    wait_until,
)
from .services import (
    FLOWER_PASSWORD,
    FLOWER_USER,
    CentrifugoProcess,
    FlowerProcess,
    PrometheusError,
    PrometheusProcess,
    RedisProcess,
    SmtpProcess,
    WorkerProcess,
    basic_auth,
    celery_beat_process,
)

__all__ = [
    "BASE_DIR",
    "FLOWER_PASSWORD",
    "FLOWER_USER",
    "CentrifugoProcess",
    "FlowerProcess",
    "ManagedProcess",
    "PrometheusError",
    "PrometheusProcess",
    "RedisProcess",
    "SmtpProcess",
    "WorkerProcess",
    "answers",
    "basic_auth",
    "celery_beat_process",
    "database_url",
    "django_env",
    "free_port",
    "port_open",
    "wait_until",
]
