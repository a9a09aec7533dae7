"""One panel's series from Prometheus, as Grafana would ask for them.

The browser never sends PromQL: the data view (monitoring/views.py) passes a panel of the Grafana
model and a time grid, and this module runs that panel's own queries against Prometheus'
range-query API, with Grafana's variables replaced by Grafana's rules (`$__rate_interval`,
`$__range`, ...) and series named by the panel's legend formats, so the page draws what Grafana
would.
"""

from __future__ import annotations

import functools
import math
import re

import requests
from django.conf import settings

from monitoring.grafana.datasource import provisioned_datasource

TIMEOUT = 10  # seconds per query: a panel shows an error rather than hang


class PrometheusUnavailable(RuntimeError):
    """Prometheus could not be reached or refused a query; the message is for the panel."""


@functools.cache
def scrape_interval() -> float:
    """Seconds between scrapes as Grafana's datasource knows it (its timeInterval), the figure
    Grafana's `$__rate_interval` is made of (read once per process, not on every panel's fetch:
    the provisioning file does not change while the app runs)."""
    datasource = provisioned_datasource()
    return parse_duration(datasource.get("jsonData", {}).get("timeInterval", "15s"))


def parse_duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return float(match[1]) * units[match[2]]


def _seconds(value: float) -> str:
    return f"{max(1, math.ceil(value))}s"


def grafana_variables(range_seconds: int, step: int, scrape: float) -> dict[str, str]:
    """What Grafana puts in place of its variables for this range and step."""
    return {
        # Grafana's rule: max(4 x scrape interval, step + scrape interval).
        "$__rate_interval": _seconds(max(4 * scrape, step + scrape)),
        "$__interval_ms": str(step * 1000),
        "$__interval": _seconds(step),
        "$__range_ms": str(range_seconds * 1000),
        "$__range_s": str(range_seconds),
        "$__range": _seconds(range_seconds),
    }


def fill_variables(expr: str, variables: dict[str, str]) -> str:
    """`expr` with every Grafana variable replaced (longest names first: `$__range_s` before
    `$__range`)."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(name, variables[name])
    return expr


def legend(fmt: str, labels: dict[str, str]) -> str:
    """A series' name as Grafana writes it: the legend format with `{{label}}` filled in, or the
    metric and its labels when the format is empty."""
    if fmt:
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m[1], ""), fmt)
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _number(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None  # JSON has no NaN; a gap instead


def query_range(expr: str, start: int, end: int, step: int) -> list[dict]:
    """The series Prometheus returns for a range query."""
    url = f"{settings.PROMETHEUS_URL.rstrip('/')}/api/v1/query_range"
    params = {"query": expr, "start": start, "end": end, "step": step}
    try:
        response = requests.get(url, params=params, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise PrometheusUnavailable(
            f"Prometheus is unreachable at {settings.PROMETHEUS_URL} ({type(exc).__name__})"
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or body.get("status") != "success":
        error = body.get("error") or f"HTTP {response.status_code}"
        raise PrometheusUnavailable(f"Prometheus refused the query: {error}")
    return body["data"]["result"]


def panel_data(panel: dict, range_seconds: int, step: int, end: int) -> dict:
    """Every series of a panel's queries on one time grid (null where a series has no value),
    so the page can hand them to uPlot as they are."""
    start = end - range_seconds
    times = list(range(start, end + 1, step))
    index = {t: i for i, t in enumerate(times)}
    variables = grafana_variables(range_seconds, step, scrape_interval())
    series = []
    for target in panel.get("targets", []):
        expr = fill_variables(target["expr"], variables)
        for result in query_range(expr, start, end, step):
            values: list[float | None] = [None] * len(times)
            for stamp, text in result["values"]:
                i = index.get(round(float(stamp)))
                if i is not None:
                    values[i] = _number(text)
            if all(v is None for v in values):
                continue  # only NaN (0/0, a quantile of no events): nothing to draw
            series.append(
                {
                    "name": legend(target.get("legendFormat", ""), result["metric"]),
                    "query": target.get("refId", ""),
                    "values": values,
                }
            )
    return {"times": times, "series": series, "step": step, "range": range_seconds}
