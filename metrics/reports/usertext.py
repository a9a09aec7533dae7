"""Text users typed (chat titles), as the report and the notebooks write it: drawn literally
in charts, and neutralised in CSV cells where a spreadsheet would run it as a formula.

One definition each, shared by the report's charts and the notebooks (which import no models,
so neither does this module):

- matplotlib parses a label with an even number of `$` as TeX ("mathtext"), and `savefig`
  raises on one it cannot parse (`$\\foo$`): one such chat among the busiest stopped every
  report. `LITERAL_TEXT_RC` turns that parsing off (matplotlib's own `text.parse_math`, and
  `text.usetex`, which a matplotlibrc could turn on); `literal_text()` applies it around a
  drawing, `plt.rcParams.update(LITERAL_TEXT_RC)` in a notebook kernel. It must be in force
  when a figure is saved, not only built: axis tick labels are created as the figure is drawn.
- A CSV cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
  Excel, LibreOffice and Google Sheets (OWASP "CSV Injection"): `csv_safe` prefixes it with a
  single quote. Parquet keeps the text as typed: it is data for programs, not a spreadsheet.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib
import pandas as pd

LITERAL_TEXT_RC: dict[str, Any] = {"text.parse_math": False, "text.usetex": False}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
LABEL_CHARS = 30  # a chat's title in a chart label: the bars keep their width


@contextmanager
def literal_text() -> Iterator[None]:
    """Within it, matplotlib draws every string as written: no TeX, no mathtext."""
    with matplotlib.rc_context(LITERAL_TEXT_RC):
        yield


def chat_label(title: Any, chat_id: int, width: int = LABEL_CHARS) -> str:
    """A chat as a chart names it: its title cut to `width` characters (an untitled or deleted
    one: "chat"), then its id, which tells apart two chats of the same title."""
    text = title if isinstance(title, str) else ""
    cut = text[:width] + "…" if len(text) > width else text
    return f"{cut or 'chat'} (#{chat_id})"


def csv_cell(value: Any) -> Any:
    """`value` as a CSV cell a spreadsheet shows as text: a string starting a formula gets a
    leading `'`; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` for `to_csv`: every text column's cells through `csv_cell` (numbers,
    times and missing values untouched)."""
    safe = table.copy()
    for column in safe.columns:
        if pd.api.types.is_object_dtype(safe[column]) or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(csv_cell, na_action="ignore")
    return safe
