"""Grafana dashboards built from code, their provisioning files, the Prometheus config helper."""
