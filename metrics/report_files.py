"""Reading a report folder: the side of the report contract that needs no models or database.

`metrics.reports` writes the folders (layout in its docstring and docs/metrics.md); the notebooks
read them here, so a notebook kernel loads settings but never the app registry.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from django.conf import settings

LATEST = "latest"


def latest_report(reports_dir: Path | str | None = None) -> Path | None:
    """The folder `latest` names (resolved), or None before the first report."""
    link = Path(reports_dir or settings.REPORTS_DIR) / LATEST
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def load_table(report_dir: Path | str | None, name: str) -> pd.DataFrame:
    """Read one table of a report (None: the latest) from its Parquet file: the one reader."""
    folder = Path(report_dir) if report_dir is not None else latest_report()
    if folder is None:
        raise FileNotFoundError("no report has been written yet")
    return pd.read_parquet(folder / f"{name}.parquet")
