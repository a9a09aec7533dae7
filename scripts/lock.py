"""The lock: write constraints.txt from .venv, or list the pins behind the newest release.

    .venv/bin/python scripts/lock.py           # after changing pyproject.toml and installing
    .venv/bin/python scripts/lock.py --check   # which pins are behind, and whether each says why

`pip freeze` alone would drop the comments that say why a pin is held back; this keeps the
comment lines written directly above a pin for as long as that package stays in the lock.
A pin behind the newest release needs such a comment here, or beside it in pyproject.toml.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"
PIP = [sys.executable, "-m", "pip"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header (comment lines before the first pin) and each pin's comment lines."""
    header: list[str] = []
    notes: dict[str, list[str]] = {}
    pending: list[str] = []
    seen_pin = False
    for line in text.splitlines():
        if line.startswith("#"):
            pending.append(line)
        elif "==" in line:
            if not seen_pin:
                header, pending, seen_pin = pending, [], True
            notes[canonical(line.split("==")[0])] = pending
            pending = []
    return header, notes


def render(lock_text: str, frozen: list[str]) -> str:
    """The new lock: `frozen` pins, sorted, each under the comment it had in `lock_text`."""
    header, notes = read_lock(lock_text)
    lines = list(header)
    for pin in sorted(frozen, key=lambda p: canonical(p.split("==")[0])):
        lines += notes.get(canonical(pin.split("==")[0]), [])
        lines.append(pin)
    return "\n".join(lines) + "\n"


def write_lock() -> None:
    frozen = subprocess.run(
        [*PIP, "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout.split()
    LOCK.write_text(render(LOCK.read_text(), frozen))


def explained() -> set[str]:
    """Packages whose pin carries a comment: above it in the lock, or beside it in pyproject."""
    _, notes = read_lock(LOCK.read_text())
    names = {name for name, comment in notes.items() if comment}
    previous = ""
    for line in PYPROJECT.read_text().splitlines():
        pin = re.match(r'\s*"([A-Za-z0-9_.-]+)[\[=<>]', line)
        if pin and ("#" in line or previous.lstrip().startswith("#")):
            names.add(canonical(pin.group(1)))
        previous = line
    return names


def newest(name: str) -> tuple[str, str]:
    """The newest release on PyPI, whatever Python it needs (pip's own view hides releases for
    newer Pythons, which are exactly the pins that must say "held back by Python 3.11")."""
    url = f"https://pypi.org/pypi/{name}/json"
    with urllib.request.urlopen(url, timeout=30) as response:
        info = json.load(response)["info"]
    return info["version"], info.get("requires_python") or ""


def check() -> int:
    """List the pins behind the newest release; fail if one of them does not say why."""
    lines = LOCK.read_text().splitlines()
    pins = dict(line.split("==") for line in lines if "==" in line and line[0] != "#")
    with ThreadPoolExecutor(16) as pool:
        latest = dict(zip(pins, pool.map(newest, pins), strict=True))
    reasons = explained()
    unexplained = 0
    for name, version in pins.items():
        newest_version, needs = latest[name]
        if Version(newest_version) <= Version(version):
            continue
        says_why = canonical(name) in reasons
        unexplained += not says_why
        status = "held back, says why" if says_why else "BEHIND WITHOUT A REASON"
        print(f"{name:26} {version:12} {newest_version:20} {needs:12} {status}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    write_lock()
