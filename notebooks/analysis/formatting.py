"""How the notebooks write their figures: numbers fit for JSON, plural nouns, the JSON line.

Each notebook's last cell prints its summary with `summary_json`; the tests parse that line
from the executed notebook, so the figures a reader sees are the ones the tests check.
"""

from __future__ import annotations

import json
import math
from typing import Any


def number(value: Any) -> float | None:
    """A float for JSON (NaN is not JSON: None), rounded to 6 places so a figure reads the
    same in the summary, the conclusion and the tests."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def plural(count: int, noun: str) -> str:
    """'1 user', '2 users': the conclusions are prose, written from the numbers."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_json(summary: dict[str, Any]) -> str:
    """The line the notebooks' last cell prints; tests parse it from the executed notebook."""
    return json.dumps(summary, sort_keys=True, default=str)
