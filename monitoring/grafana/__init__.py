"""Grafana as code: the dashboards (build/ writes json/), their provisioning files, the datasource
they query (datasource.py) and the HTTP push to any other Grafana (client.py)."""
