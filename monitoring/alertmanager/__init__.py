"""Alertmanager's config, rendered from the environment (config.py, checked by env.py), and the
email template it sends alerts with (email.tmpl)."""
