"""Fixtures of the docker-compose.yml tests: the project as compose-go's loader resolves it, once
per test module. The loader and the helpers are in tests/support.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import load, make_project


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("compose") / "chatplatform")


@pytest.fixture(scope="module")
def config(project_dir: Path) -> dict:
    result = load(project_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def services(config: dict) -> dict[str, dict]:
    return config["services"]
