"""Prometheus' own files (prometheus.yml, the alert rules alerts.yml and their promtool unit tests
alerts_test.yml) and config.py, which renders prometheus.yml for a run outside docker compose."""
