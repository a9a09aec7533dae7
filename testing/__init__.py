"""Test tooling, outside the app packages: real services in child processes, and the pytest
plugin (`testing.plugin`, loaded by the root conftest) whose fixtures start them.

Production code never imports this package (an import-linter contract in pyproject.toml).
"""

from .processes import (
    ManagedProcess,
    deployment_settings,
    django_env,
    free_port,
    manage_check,
    port_open,
    production_env,
    script_env,
    wait_until,
)
from .services import (
    FLOWER_USER,
    AlertmanagerProcess,
    CentrifugoProcess,
    FlowerProcess,
    HAProxyProcess,
    JaegerProcess,
    PrometheusError,
    PrometheusProcess,
    RedisProcess,
    SmtpProcess,
    WebProcess,
    WorkerProcess,
    basic_auth,
    celery_beat_process,
    prometheus_api,
)

__all__ = [
    "FLOWER_USER",
    "AlertmanagerProcess",
    "CentrifugoProcess",
    "FlowerProcess",
    "HAProxyProcess",
    "JaegerProcess",
    "ManagedProcess",
    "PrometheusError",
    "PrometheusProcess",
    "RedisProcess",
    "SmtpProcess",
    "WebProcess",
    "WorkerProcess",
    "basic_auth",
    "celery_beat_process",
    "deployment_settings",
    "django_env",
    "free_port",
    "manage_check",
    "port_open",
    "production_env",
    "prometheus_api",
    "script_env",
    "wait_until",
]
