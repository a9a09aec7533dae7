"""How the notebooks write their figures: numbers fit for JSON, plural nouns, the JSON line,
and text users typed (chat titles) shown as typed.

Each notebook's last cell prints its summary with `summary_json`; the tests parse that line
from the executed notebook, so the figures a reader sees are the ones the tests check.
"""

from __future__ import annotations

import html
import json
import math
import string
from typing import Any

import matplotlib
import pandas as pd

from metrics.reports.usertext import LITERAL_TEXT_RC

# Markdown's own characters each get a backslash (CommonMark escapes any ASCII punctuation, and
# nbconvert's math never starts at an escaped `$`); those HTML gives a meaning become entities,
# which a Markdown renderer decodes to the character and never reads as markup; a line break
# becomes a space: what a user typed stays one run of text.
_MARKDOWN_TEXT = {ord(c): "\\" + c for c in string.punctuation}
_MARKDOWN_TEXT |= {ord(c): html.escape(c) for c in "<>&\"'"}
_MARKDOWN_TEXT |= {ord("\n"): " ", ord("\r"): " "}


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


def markdown_text(text: object) -> str:
    """`text` (a chat title: anything a user typed) for a Markdown string the notebook
    displays: shown as typed, never as markup, a link, HTML or TeX."""
    return str(text).translate(_MARKDOWN_TEXT)


def show_text_as_typed() -> None:
    """In this kernel, draw and show every string as written: matplotlib without TeX (the
    settings the report's charts are drawn with, metrics.reports.usertext) and pandas tables
    that MathJax leaves alone (class `tex2jax_ignore`)."""
    matplotlib.rcParams.update(LITERAL_TEXT_RC)
    pd.set_option("display.html.use_mathjax", False)
