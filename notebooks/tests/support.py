"""What the notebooks tests share: the range they analyse, and a short way to write its UTC
timestamps."""

from __future__ import annotations

import pandas as pd

T = pd.Timestamp


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# Monday 2025-03-03 .. Monday 2025-03-10 inclusive: 8 days.
START, END = utc("2025-03-03"), utc("2025-03-11")
