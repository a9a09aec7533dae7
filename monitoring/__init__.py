"""Monitoring in one place: Grafana-as-code (grafana/), Prometheus' config, rules and their tests
(prometheus/), Alertmanager's config (alertmanager/), the runbooks (runbooks.md), and the pages
that draw the dashboards (/dashboards/) and the runbooks (/runbooks/) in the app."""
