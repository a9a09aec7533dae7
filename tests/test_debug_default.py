"""DEBUG is off unless asked for: a process that neither its environment nor a `.env` tells
DJANGO_DEBUG=true (the image started on its own, without compose's environment) runs without
debug pages and refuses the placeholder secrets, naming them; the `.env` that scripts/setup.sh
writes from `.env.example` turns it on, so `make up` works; the image's build-time
collectstatic, which has neither, still runs.

Each process runs in a tree of its own without `.env` (the settings read the `.env` beside
them, and this repository's has DJANGO_DEBUG=true and real secrets), with an environment that
holds nothing of this test run's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import testing
from tests.support import ROOT, image_environment, tree_without_env


@pytest.fixture(scope="module")
def bare_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tree_without_env(tmp_path_factory.mktemp("bare") / "chatplatform")


def run(tree: Path, argv: list[str], **environment: str) -> subprocess.CompletedProcess[str]:
    """`argv` in `tree` with only PATH and `environment`: no DJANGO_DEBUG unless given."""
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **environment}
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    return subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, timeout=180)


def deployment_secrets() -> dict[str, str]:
    """What a start with DEBUG off needs, without saying DEBUG: unset, it must be off."""
    values = testing.deployment_settings()
    del values["DJANGO_DEBUG"]
    return values


# What a visitor of an unknown page sees: Django's technical 404 (URL patterns listed) with
# DEBUG on, the platform's plain one with it off.
SHOW_404 = """
from django.conf import settings
from django.test import Client
page = Client().get("/no-such-page/")
print("DEBUG", settings.DEBUG)
print("technical 404", "URLconf" in page.text)
"""


def test_without_debug_or_secrets_nothing_starts_and_the_error_names_the_variable(
    bare_tree: Path,
) -> None:
    assert not (bare_tree / ".env").exists()
    result = run(bare_tree, ["python", "manage.py", "check"])
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr, result.stderr
    assert "DJANGO_SECRET_KEY must be set to a real secret when DJANGO_DEBUG is off" in (
        result.stderr
    )
    assert "scripts/setup.sh" in result.stderr


def test_unset_debug_is_off_and_serves_no_debug_page(bare_tree: Path) -> None:
    """Started like the image on its own with real secrets: no debug page for a stranger."""
    environment = {**deployment_secrets(), "DJANGO_ALLOWED_HOSTS": "testserver"}
    result = run(bare_tree, ["python", "manage.py", "shell", "-c", SHOW_404], **environment)
    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout
    assert "technical 404 False" in result.stdout
    # The same start with DJANGO_DEBUG=true shows it: the check above can fail.
    result = run(
        bare_tree, ["python", "manage.py", "shell", "-c", SHOW_404], **environment, DJANGO_DEBUG="1"
    )
    assert "DEBUG True" in result.stdout and "technical 404 True" in result.stdout, result.stderr


def test_the_env_setup_writes_turns_debug_on_so_make_up_starts(tmp_path: Path) -> None:
    """`.env.example`, which scripts/setup.sh copies (tests/test_setup.py checks it does), says
    DJANGO_DEBUG=true: with its placeholders the development start works."""
    tree = tree_without_env(tmp_path / "chatplatform")
    example = (ROOT / ".env.example").read_text()
    assert re.search(r"^DJANGO_DEBUG=true$", example, re.M)
    (tree / ".env").write_text(example)
    result = run(tree, ["python", "manage.py", "check"])
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_images_collectstatic_runs_without_env_or_secrets(bare_tree: Path) -> None:
    """The Dockerfile's build step as docker runs it: its ENV lines, no .env, no secrets."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    image_env = image_environment()
    assert image_env["DJANGO_SETTINGS_MODULE"] == "chatplatform.settings"
    assert "DJANGO_DEBUG" not in image_env  # off in the image: only the build step turns it on
    (step,) = re.findall(r"^RUN (.*collectstatic.*)$", text, re.M)
    shutil.rmtree(bare_tree / "var", ignore_errors=True)
    result = run(
        bare_tree, ["sh", "-c", step.replace("python ", f"{sys.executable} ", 1)], **image_env
    )
    assert result.returncode == 0, result.stderr
    collected = bare_tree / "var" / "static"
    assert (collected / "vendor" / "uplot" / "uPlot.iife.min.js").is_file()
    assert (collected / "admin" / "css" / "base.css").is_file()
