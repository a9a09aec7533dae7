"""What every dashboard is made of: the panel kinds, the dashboard frame, PromQL helpers.

The one module that imports grafana-foundation-sdk's builders and models, so their v1 warnings
are silenced in one place; the dashboard modules take `Dashboard` and `Row` from here. Every panel
queries the one Prometheus datasource that provisioning defines, by its fixed uid. Queries use
Grafana's `$__rate_interval`, which the end-to-end test replaces with a fixed window when it sends
them to a real Prometheus.
"""

from __future__ import annotations

import warnings
from typing import TypeVar

# The classic (v1) dashboard model on purpose: file provisioning and /api/dashboards/db take it on
# every Grafana version, the v2 schema only on Grafana 12 with its new APIs. The SDK warns about
# v1 when its modules load and when a dashboard is built.
V1_WARNING = "Prefer using dashboardv2"
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", V1_WARNING, DeprecationWarning)
    from grafana_foundation_sdk.builders import bargauge, prometheus, stat, timeseries
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dash
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models.dashboard import (
        DashboardCursorSync,
        Threshold,
        ThresholdsMode,
        VariableOption,
    )

Dashboard = dash.Dashboard
Row = dash.Row

# The uid of the datasource in monitoring/grafana/provisioning/datasources/prometheus.yml;
# sync_dashboards creates it under the same uid. Dashboards refer to nothing else.
DATASOURCE_UID = "chatplatform-prometheus"
DATASOURCE = common.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
TAGS = ["chatplatform"]

Query = tuple[str, str]  # (PromQL expression, legend format)
PanelT = TypeVar("PanelT", timeseries.Panel, stat.Panel, bargauge.Panel)


def _targets(queries: list[Query]) -> list[prometheus.Dataquery]:
    return [
        prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + i))
        for i, (expr, legend) in enumerate(queries)
    ]


def _querying(
    panel: PanelT, title: str, queries: list[Query], unit: str, description: str
) -> PanelT:
    """What every kind of panel has: title, description, the datasource, unit and queries."""
    panel.title(title).description(description).datasource(DATASOURCE).unit(unit)
    for target in _targets(queries):
        panel.with_target(target)
    return panel


def _last_value() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"])


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
    )


def graph(
    title: str, queries: list[Query], unit: str, description: str, width: int = 12
) -> timeseries.Panel:
    """A time series panel: one line per query (and per label set it returns)."""
    panel = timeseries.Panel().min(0).legend(_legend()).span(width).height(8)
    return _querying(panel, title, queries, unit, description)


def single(
    title: str,
    query: Query,
    unit: str,
    description: str,
    red_below: float | None = None,
    red_above: float | None = None,
) -> stat.Panel:
    """A stat panel with the latest value; red when below or above a threshold."""
    if red_below is not None:
        steps = [Threshold(None, "red"), Threshold(red_below, "green")]
    elif red_above is not None:
        steps = [Threshold(None, "green"), Threshold(red_above, "red")]
    else:
        steps = [Threshold(None, "blue")]
    panel = (
        stat.Panel()
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(_last_value())
        .thresholds(dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .span(6)
        .height(5)
    )
    return _querying(panel, title, [query], unit, description)


def bars(title: str, queries: list[Query], unit: str, description: str) -> bargauge.Panel:
    """Horizontal bars, one per series, for rankings."""
    panel = (
        bargauge.Panel()
        .min(0)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(_last_value())
        .span(12)
        .height(8)
    )
    return _querying(panel, title, queries, unit, description)


def new_dashboard(title: str, uid: str, description: str) -> Dashboard:
    """An empty dashboard with the settings all of ours share: tags, time range, refresh."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", V1_WARNING, DeprecationWarning)
        dashboard = Dashboard(title)
    return (
        dashboard.uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
    )


def rate(selector: str) -> str:
    """Per-second rate of a counter over Grafana's rate window."""
    return f"rate({selector}[$__rate_interval])"


def sum_by(by: str, expr: str) -> str:
    """`expr` summed into one series per `by` label ("" for all together)."""
    return f"sum by ({by}) ({expr})" if by else f"sum({expr})"


def quantile(q: float, by: str, series: str) -> str:
    """Quantile `q` of a histogram's bucket rates, one line per `by` label ("" for all together):
    the buckets must be summed by `le` too, or histogram_quantile has no buckets to read."""
    return f"histogram_quantile({q}, {sum_by(by + ', le' if by else 'le', series)})"


def p50_p95(by: str, series: str) -> list[Query]:
    """The median and p95 lines of a histogram, one pair per `by` label ("" for all together)."""
    suffix = f" {{{{{by}}}}}" if by else ""
    return [(quantile(q, by, series), f"p{round(q * 100)}{suffix}") for q in (0.5, 0.95)]


# --- From a slow point to its trace -------------------------------------------------------------
# prometheus-client keeps no exemplars in its multiprocess mode and the app's /metrics serves the
# text format, so a latency panel links to the slowest traces of its time instead: the app's
# /traces/ page (monitoring/traces) asks Jaeger for them. Grafana runs at another origin than the
# app, so the links start with the dashboard variable `app_url` (the app's base URL, editable on
# the dashboard); the in-app dashboards put "" (same origin) in its place.
APP_URL_VARIABLE = "app_url"
APP_URL_DEFAULT = "http://127.0.0.1:8000"  # make up's and compose's web port
POINT_LINK_TITLE = "Slowest traces around this point"
RANGE_LINK_TITLE = "Slowest traces of this time range"


def app_url_variable() -> dash.TextBoxVariable:
    """The dashboard's `app_url` text box: where the trace links point."""
    return (
        dash.TextBoxVariable(APP_URL_VARIABLE)
        .label("App URL (trace links)")
        .description("The app's base URL, where the latency panels' trace links open /traces/.")
        .default_value(APP_URL_DEFAULT)
        .current(VariableOption(selected=True, text=APP_URL_DEFAULT, value=APP_URL_DEFAULT))
    )


def with_trace_links(panel: PanelT, service: str) -> PanelT:
    """Link a latency panel to the slowest traces of `service` (a name Jaeger knows, or a prefix
    ending in "*" for a group of services): a data link from a clicked point (Grafana's
    `${__value.time}`, epoch ms; /traces/ takes the five minutes before it, the rate window of a
    quantile at that point), and a panel link for the dashboard's time range (`${__from}`,
    `${__to}`). The in-app renderer (static/monitoring/dashboards.js) follows the same URLs."""
    base = f"${{{APP_URL_VARIABLE}}}/traces/?service={service}&sort=slowest"
    point = _Link(POINT_LINK_TITLE, f"{base}&at=${{__value.time}}")
    whole = _Link(RANGE_LINK_TITLE, f"{base}&start=${{__from}}&end=${{__to}}")
    return panel.data_links([point]).links([whole])  # type: ignore[list-item]


class _Link:
    """A panel or data link as Grafana stores one ({title, url, targetBlank}): the SDK's
    DashboardLink builder would add a dashboard link's fields (tags, placement, ...)."""

    def __init__(self, title: str, url: str) -> None:
        self.link = {"title": title, "url": url, "targetBlank": False}

    def build(self) -> dict:
        return self.link
