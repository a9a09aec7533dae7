"""Render monitoring/prometheus/prometheus.yml for a run outside docker compose.

prometheus.yml names its targets as docker compose does (web:8000, flower:5555, ...). `make up` and
the end-to-end tests run the same jobs, intervals and rules against other addresses, so they render
a copy with only the targets (and the rule file paths, made absolute) replaced, and the web job's
bearer token file (compose's secret) replaced by a local one, or dropped when the app's /metrics
is open. Used by scripts/run-prometheus.sh and the tests; no Django needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PROMETHEUS_YML = HERE / "prometheus.yml"
ALERTS = HERE / "alerts.yml"  # the rule file prometheus.yml names
JOBS = ("web", "flower", "centrifugo", "prometheus", "celery-workers")
# Jobs a rendering may leave out: without an Alertmanager target, its job and the `alerting`
# section are dropped (alerts then show in Prometheus only); compose's Centrifugo load balancer
# has no counterpart in make up (one node).
OPTIONAL_JOBS = ("alertmanager", "centrifugo-lb")
# The job that scrapes the app's /metrics, behind METRICS_BEARER_TOKEN.
BEARER_JOB = "web"


def load_config(path: Path = PROMETHEUS_YML) -> dict:
    """The parsed prometheus.yml."""
    return yaml.safe_load(path.read_text())


def worker_targets(spec: str) -> list[dict]:
    """`group=host:port,...` as static configs, each target labelled with its worker group."""
    configs = []
    for item in filter(None, spec.split(",")):
        group, _, target = item.partition("=")
        configs.append({"targets": [target], "labels": {"group": group}})
    return configs


def render_config(
    targets: dict[str, str | list[dict]],
    scrape_interval: str | None = None,
    path: Path = PROMETHEUS_YML,
    web_token_file: Path | str | None = None,
) -> str:
    """prometheus.yml with each job's target replaced by `targets[job]` ("host:port").

    Every job of the file must get a target (a job left pointing at a compose name would just be
    down), and no unknown job may be given; only OPTIONAL_JOBS may be left out (without
    `alertmanager` Prometheus sends alerts nowhere, as in the end-to-end tests that need no
    Alertmanager). Rule files become absolute so the rendered file can live anywhere.
    `scrape_interval` (tests) shortens the scrape and evaluation intervals. `web_token_file` holds
    METRICS_BEARER_TOKEN for the web job; None: the app's /metrics is open and no token is sent.
    """
    config = load_config(path)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in OPTIONAL_JOBS:
        if name not in targets and name in jobs:
            config["scrape_configs"].remove(jobs.pop(name))
    if set(targets) != set(jobs):
        raise ValueError(f"targets for {sorted(targets)} given, prometheus.yml has {sorted(jobs)}")
    if "alertmanager" in targets:
        alertmanager = targets["alertmanager"]
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    else:
        config.pop("alerting", None)
    for name, job in jobs.items():
        target = targets[name]
        # A list is already static configs (labelled targets); a string is one target.
        job["static_configs"] = target if isinstance(target, list) else [{"targets": [target]}]
        # Discovery and relabelling are for compose's DNS names; here the targets are given.
        job.pop("dns_sd_configs", None)
        job.pop("relabel_configs", None)
        if name == BEARER_JOB:
            job.pop("authorization", None)
            if web_token_file is not None:
                credentials = str(Path(web_token_file).resolve())
                job["authorization"] = {"type": "Bearer", "credentials_file": credentials}
    config["rule_files"] = [str((path.parent / rule).resolve()) for rule in config["rule_files"]]
    if scrape_interval:
        config["global"].update(
            scrape_interval=scrape_interval,
            evaluation_interval=scrape_interval,
            scrape_timeout=scrape_interval,
        )
    header = f"# Rendered from {path} by monitoring/prometheus/config.py; edit that file instead.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.prometheus.config", description=__doc__.splitlines()[0]
    )
    for job in JOBS:
        metavar = "GROUP=HOST:PORT,..." if job == "celery-workers" else "HOST:PORT"
        parser.add_argument(f"--{job}", required=True, metavar=metavar)
    parser.add_argument("--alertmanager", metavar="HOST:PORT", help="none: alerts go nowhere")
    parser.add_argument(
        "--web-token-file", type=Path, help="file with METRICS_BEARER_TOKEN (none: send no token)"
    )
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    given = {job: getattr(args, job.replace("-", "_")) for job in JOBS}
    given["celery-workers"] = worker_targets(given["celery-workers"])
    if args.alertmanager:
        given["alertmanager"] = args.alertmanager
    text = render_config(given, web_token_file=args.web_token_file)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
