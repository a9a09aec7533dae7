"""The lock (constraints.txt) is what the tests run on, agrees with pyproject.toml, and keeps the
reason beside each held-back pin when `make lock` writes it again."""

from __future__ import annotations

import importlib.util
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("lock", REPO / "scripts" / "lock.py")
lock = importlib.util.module_from_spec(spec)
sys.modules["lock"] = lock
spec.loader.exec_module(lock)


# `name==1.2` in the lock, `"name[extra]==1.2",` in pyproject.toml.
PIN = re.compile(r'^\s*"?([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^",\s]+)', re.M)


def pins(text: str) -> dict[str, Version]:
    return {lock.canonical(name): Version(pinned) for name, pinned in PIN.findall(text)}


def test_every_locked_package_is_the_installed_one() -> None:
    wrong = {}
    for name, pinned in pins(lock.LOCK.read_text()).items():
        try:
            installed = Version(version(name))
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert wrong == {}, "run scripts/setup.sh, or make lock after changing pyproject.toml"


def test_pyproject_pins_the_versions_of_the_lock() -> None:
    direct = pins(lock.PYPROJECT.read_text())
    locked = pins(lock.LOCK.read_text())
    assert "celery" in direct and "pandas" in direct
    assert {name: v for name, v in direct.items() if locked.get(name) != v} == {}


def test_rewriting_the_lock_keeps_each_reason_with_its_pin() -> None:
    old = "# The lock.\nb==1\n# Held back: c needs Python 3.12.\nc==1\nd==1\n"
    new = lock.render(old, ["d==2", "C==1", "a==3"])
    assert new == "# The lock.\na==3\n# Held back: c needs Python 3.12.\nC==1\nd==2\n"


def test_every_held_back_pin_in_the_lock_says_why() -> None:
    """The reasons `make lock` checks against PyPI (needs the network, so not run here) are on
    the pins known to be held back today."""
    assert {"numpy", "contourpy", "python-dateutil", "packaging", "django"} <= lock.explained()
