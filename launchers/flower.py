"""Start Flower with the basic auth of FLOWER_USER and FLOWER_PASSWORD, refusing a placeholder.

    python -m launchers.flower --port=5555 --address=127.0.0.1   # make up and compose run it

Flower shows every task's arguments and can revoke tasks, but has no settings module of its own
that could refuse `change-me`: this launcher checks the password (core.secrets, with
DJANGO_DEBUG off) and then becomes `celery -A chatplatform flower` with the given options. The
credentials reach Flower in its own FLOWER_BASIC_AUTH variable, not on the command line, where
`ps` would show them to every user of the machine.
"""

from __future__ import annotations

import os
import sys

from django.core.exceptions import ImproperlyConfigured

from core.secrets import require_secret

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")


def flower_env() -> dict[str, str]:
    """The environment Flower starts with; ImproperlyConfigured on a placeholder password."""
    from django.conf import settings

    if not settings.DEBUG:
        require_secret("FLOWER_PASSWORD", settings.FLOWER_PASSWORD)
    return {**os.environ, "FLOWER_BASIC_AUTH": f"{settings.FLOWER_USER}:{settings.FLOWER_PASSWORD}"}


def main(options: list[str]) -> None:
    """Replace this process with Flower, so signals and the exit status are Flower's own."""
    try:
        env = flower_env()
    except ImproperlyConfigured as exc:
        sys.exit(f"refusing to start Flower: {exc}")
    argv = [sys.executable, "-m", "celery", "-A", "chatplatform", "flower", *options]
    os.execve(sys.executable, argv, env)  # noqa: S606 - our own interpreter, no shell


if __name__ == "__main__":
    main(sys.argv[1:])
