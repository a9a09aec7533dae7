"""`python -m monitoring.grafana.build` (what `make dashboards` runs): write the dashboards as
JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitoring.grafana.build import JSON_DIR, write


def main(argv: list[str] | None = None) -> int:
    """Write every dashboard into --output (default monitoring/grafana/json/) and list the files."""
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.grafana.build",
        description="Write the Grafana dashboards as JSON.",
    )
    parser.add_argument("--output", type=Path, default=JSON_DIR)
    args = parser.parse_args(argv)
    for path in write(args.output):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
