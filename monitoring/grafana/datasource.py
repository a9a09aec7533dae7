"""The Prometheus datasource as monitoring/grafana/provisioning defines it (the one uid the
panels query).

Its own module, free of grafana-client, so the web app's in-app dashboards (panel_data) read it
without importing the Grafana API client they never use.
"""

from __future__ import annotations

from pathlib import Path

import yaml

DATASOURCE_YML = Path(__file__).resolve().parent / "provisioning" / "datasources" / "prometheus.yml"


def provisioned_datasource() -> dict:
    """The first (only) datasource of the provisioning file."""
    return yaml.safe_load(DATASOURCE_YML.read_text())["datasources"][0]
