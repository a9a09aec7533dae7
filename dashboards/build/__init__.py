"""The Grafana dashboards of Chat Platform, built from code with grafana-foundation-sdk.

`python -m dashboards.build` (or `make dashboards`) writes one JSON file per dashboard into
dashboards/json/, which Grafana loads through file provisioning (dashboards/provisioning/) and
`manage.py sync_dashboards` pushes over Grafana's HTTP API. A test checks that the committed JSON
equals what this module builds, so edit the code and regenerate, never the JSON.

Every panel queries the one Prometheus datasource that provisioning defines, by its fixed uid.
Task health comes from Flower's metrics, queue health from the web app's /metrics (read from the
broker) and the workers' own (time in queue), business numbers from the web app's /metrics, live
delivery from Centrifugo's. Queries use Grafana's `$__rate_interval`, which the end-to-end test
replaces with a fixed window when it sends them to a real Prometheus.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

# The classic (v1) dashboard model on purpose: file provisioning and /api/dashboards/db take it on
# every Grafana version, the v2 schema only on Grafana 12 with its new APIs. The SDK warns about
# v1 when its modules load and when a dashboard is built.
V1_WARNING = "Prefer using dashboardv2"
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", V1_WARNING, DeprecationWarning)
    from grafana_foundation_sdk.builders import bargauge, prometheus, stat, timeseries
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dash
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models.dashboard import (
        DashboardCursorSync,
        Threshold,
        ThresholdsMode,
    )

JSON_DIR = Path(__file__).resolve().parent.parent / "json"
# The uid of the datasource in dashboards/provisioning/datasources/prometheus.yml; sync_dashboards
# creates it under the same uid. Dashboards refer to nothing else.
DATASOURCE_UID = "chatplatform-prometheus"
DATASOURCE = common.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
TAGS = ["chatplatform"]

Query = tuple[str, str]  # (PromQL expression, legend format)


def _targets(queries: list[Query]) -> list[prometheus.Dataquery]:
    return [
        prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + i))
        for i, (expr, legend) in enumerate(queries)
    ]


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
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .legend(_legend())
        .span(width)
        .height(8)
    )
    for target in _targets(queries):
        panel.with_target(target)
    return panel


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
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .span(6)
        .height(5)
    )
    for target in _targets([query]):
        panel.with_target(target)
    return panel


def bars(title: str, queries: list[Query], unit: str, description: str) -> bargauge.Panel:
    """Horizontal bars, one per series, for rankings."""
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .span(12)
        .height(8)
    )
    for target in _targets(queries):
        panel.with_target(target)
    return panel


def _new(title: str, uid: str, description: str) -> dash.Dashboard:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", V1_WARNING, DeprecationWarning)
        dashboard = dash.Dashboard(title)
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


def _rate(selector: str) -> str:
    return f"rate({selector}[$__rate_interval])"


def _quantile(q: float, by: str, series: str) -> str:
    """Quantile `q` of a histogram's bucket rates, one line per `by` label ("" for all together):
    the buckets must be summed by `le` too, or histogram_quantile has no buckets to read."""
    return f"histogram_quantile({q}, sum by ({by + ', ' if by else ''}le) ({series}))"


def _p50_p95(by: str, series: str) -> list[Query]:
    """The median and p95 lines of a histogram, one pair per `by` label ("" for all together)."""
    suffix = f" {{{{{by}}}}}" if by else ""
    return [(_quantile(q, by, series), f"p{round(q * 100)}{suffix}") for q in (0.5, 0.95)]


def _events(task_type: str) -> str:
    """Flower's counter of task events of one type, e.g. task-failed."""
    return f'flower_events_total{{type=~"{task_type}"}}'


def _per_task(expr: str) -> str:
    return f"sum by (task) ({expr})"


FAILED, FINISHED = _events("task-failed"), _events("task-succeeded|task-failed")


def _broker(by: str, metric: str) -> str:
    """A gauge the web app reads from the broker: every web replica reports the same value, so
    take one (max), never the sum."""
    return f"max by ({by}) ({metric})"


def task_health() -> dash.Dashboard:
    """Is the background work done, on time? Workers, throughput, failures, runtime, backlog."""
    runtime = _rate("flower_task_runtime_seconds_bucket")
    waited = _rate("chatplatform_task_queue_wait_seconds_bucket")
    return (
        _new(
            "Task health",
            "chatplatform-task-health",
            "Celery workers and tasks as Flower sees them (task events), the queues as the broker "
            "and the workers see them, beat's schedule, and the outbox backlog.",
        )
        .with_row(dash.Row("Now"))
        .with_panel(
            single(
                "Workers online",
                ("sum(flower_worker_online)", "workers"),
                "none",
                "Workers whose heartbeat Flower receives. 0: nothing is processed.",
                red_below=1,
            )
        )
        .with_panel(
            single(
                "Tasks running",
                ("sum(flower_worker_number_of_currently_executing_tasks)", "running"),
                "none",
                "Tasks executing on all workers at their last heartbeat.",
            )
        )
        .with_panel(
            single(
                "Emails pending",
                ('sum(chatplatform_notifications{status="pending"})', "pending"),
                "none",
                "Admin emails waiting to be sent (new or retrying).",
                red_above=20,
            )
        )
        .with_panel(
            single(
                "Task failure ratio",
                (f"sum(rate({FAILED}[$__range])) / sum(rate({FINISHED}[$__range]))", "failed"),
                "percentunit",
                "Failed runs / finished runs over the dashboard's time range.",
                red_above=0.1,
            )
        )
        .with_row(dash.Row("Throughput and failures"))
        .with_panel(
            graph(
                "Tasks processed per task",
                [(_per_task(_rate(_events("task-succeeded"))), "{{task}}")],
                "ops",
                "Successful task runs per second, by task name.",
            )
        )
        .with_panel(
            graph(
                "Tasks failed per task",
                [(_per_task(_rate(FAILED)), "{{task}}")],
                "ops",
                "Failed task runs per second, by task name (a retry is not a failure).",
            )
        )
        .with_panel(
            graph(
                "Failure ratio per task",
                [(f"{_per_task(_rate(FAILED))} / {_per_task(_rate(FINISHED))}", "{{task}}")],
                "percentunit",
                "Failed / finished runs. The CeleryTaskFailureRatioHigh alert fires above 10%.",
            )
        )
        .with_panel(
            graph(
                "Retries per task",
                [(_per_task(_rate(_events("task-retried"))), "{{task}}")],
                "ops",
                "Retries per second: a transient error (SMTP or Centrifugo down) being ridden out.",
            )
        )
        .with_row(dash.Row("Latency and backlog"))
        .with_panel(
            graph(
                "Runtime p50 / p95 per task",
                _p50_p95("task", runtime),
                "s",
                "Time a task body takes on the worker. CeleryTaskRuntimeP95High fires above 10 s.",
            )
        )
        .with_panel(
            graph(
                "Prefetch time per task",
                [("max by (task) (flower_task_prefetch_time_seconds)", "{{task}}")],
                "s",
                "How long the last run waited on a worker between receipt and start (busy pool).",
            )
        )
        .with_panel(
            graph(
                "Outbox backlog",
                [
                    ("sum by (status) (chatplatform_notifications)", "emails {{status}}"),
                    ("sum by (status) (chatplatform_publications)", "live events {{status}}"),
                ],
                "none",
                "Outbox rows by status: admin emails and live events for Centrifugo.",
                width=24,
            )
        )
        .with_row(dash.Row("Queues"))
        .with_panel(
            graph(
                "Tasks waiting by queue",
                [(_broker("queue, state", "chatplatform_queue_tasks"), "{{queue}} {{state}}")],
                "none",
                "Ready: in the queue, waiting for any worker. Reserved: taken by a worker and not "
                "yet acknowledged (prefetched, running an acks_late task, or holding an ETA).",
            )
        )
        .with_panel(
            graph(
                "Oldest ready task age by queue",
                [
                    (_broker("queue", "chatplatform_queue_oldest_task_age_seconds"), "{{queue}}"),
                    (
                        _broker("queue", "chatplatform_queue_wait_budget_seconds"),
                        "budget {{queue}}",
                    ),
                ],
                "s",
                "How long the oldest waiting task of each queue has waited, against the queue's "
                "budget. CeleryQueueWaitHigh fires when it stays over the budget for 1 minute.",
            )
        )
        .with_panel(
            graph(
                "Time in queue p50 / p95 by queue",
                _p50_p95("queue", waited),
                "s",
                "From send (or ETA) to a worker starting the task, as the workers record it. "
                "CeleryQueueWaitP95High fires when the p95 stays over the queue's budget.",
                width=24,
            )
        )
        .with_row(dash.Row("Workers and beat"))
        .with_panel(
            graph(
                "Worker heartbeat age",
                [
                    (
                        _broker("worker, group", "chatplatform_worker_heartbeat_age_seconds"),
                        "{{worker}} ({{group}})",
                    )
                ],
                "s",
                "Seconds since each worker's last heartbeat (every 2 s). One that keeps growing "
                "was killed or is stuck: CeleryWorkerHeartbeatStale fires past 30 s.",
            )
        )
        .with_panel(
            graph(
                "Workers per queue",
                [(_broker("queue", "chatplatform_queue_workers"), "{{queue}}")],
                "none",
                "Workers with a fresh heartbeat that consume each queue. CeleryQueueNoWorker "
                "fires at 0.",
            )
        )
        .with_panel(
            graph(
                "Beat: time since last run",
                [
                    (
                        "time() - "
                        + _broker("entry", "chatplatform_beat_entry_last_run_timestamp_seconds"),
                        "{{entry}}",
                    )
                ],
                "s",
                "Seconds since beat last sent each schedule entry's task: a saw tooth up to the "
                "entry's period while beat runs.",
            )
        )
        .with_panel(
            graph(
                "Beat entries overdue",
                [(_broker("entry", "chatplatform_beat_entry_overdue"), "{{entry}}")],
                "none",
                "1 when an entry last ran more than two periods plus a grace ago (or never): beat "
                "is stopped or stuck. CeleryBeatEntryOverdue fires after 2 minutes.",
            )
        )
    )


def chat_activity() -> dash.Dashboard:
    """What the users do: messages, active and new users, busiest chats; and data freshness."""
    return (
        _new(
            "Chat activity",
            "chatplatform-chat-activity",
            "Business numbers from the statistics beat job, served by the web app's /metrics.",
        )
        .with_row(dash.Row("Totals"))
        .with_panel(single("Users", ("chatplatform_users", "users"), "none", "Registered users."))
        .with_panel(single("Chats", ("chatplatform_chats", "chats"), "none", "Chats that exist."))
        .with_panel(
            single(
                "Messages",
                ("chatplatform_messages_total", "messages"),
                "none",
                "Messages ever posted.",
            )
        )
        .with_panel(
            single(
                "Statistics age",
                ("chatplatform_snapshot_age_seconds", "age"),
                "s",
                "Seconds since the statistics snapshot was computed; grows when beat stops.",
                red_above=900,
            )
        )
        .with_row(dash.Row("Activity"))
        .with_panel(
            graph(
                "Messages per hour",
                [("chatplatform_messages_last_hour", "messages in the last hour")],
                "none",
                "Messages posted in the hour before each statistics run.",
            )
        )
        .with_panel(
            graph(
                "Active users",
                [("chatplatform_active_users", "{{window}}")],
                "none",
                "Distinct users who posted in the last 1, 7 and 30 days.",
            )
        )
        .with_panel(
            graph(
                "New users per day",
                [("chatplatform_new_users_last_day", "joined in the last 24 h")],
                "none",
                "Users who registered in the 24 hours before each statistics run.",
            )
        )
        .with_panel(
            bars(
                "Busiest chats (last day)",
                [("chatplatform_top_chat_messages_last_day", "#{{rank}}")],
                "none",
                "Messages in the five busiest chats of the last day, by rank (titles: /live/).",
            )
        )
        .with_row(dash.Row("Statistics jobs"))
        .with_panel(
            graph(
                "Time since last success",
                [
                    (
                        "time() - chatplatform_stats_job_last_success_timestamp_seconds",
                        "{{stats_job}}",
                    )
                ],
                "s",
                "Per beat job. StatisticsJobStale fires after 15 minutes.",
            )
        )
        .with_panel(
            graph(
                "Job duration",
                [("chatplatform_stats_job_duration_seconds", "{{stats_job}}")],
                "s",
                "How long the last run of each statistics job took; grows with new data only.",
            )
        )
    )


def live_delivery() -> dash.Dashboard:
    """Does the live layer deliver? Centrifugo clients and publications, and API latency."""
    latency = _rate("chatplatform_http_request_duration_seconds_bucket")
    return (
        _new(
            "Live delivery",
            "chatplatform-live-delivery",
            "Centrifugo's own metrics (connections, publications) and the web API's latency.",
        )
        .with_row(dash.Row("Centrifugo"))
        .with_panel(
            single(
                "Centrifugo up",
                ('up{job="centrifugo"}', "up"),
                "none",
                "1 when Prometheus can scrape Centrifugo. CentrifugoDown fires at 0.",
                red_below=1,
            )
        )
        .with_panel(
            single(
                "Connected clients",
                ("sum(centrifugo_node_num_clients)", "clients"),
                "none",
                "WebSocket connections to Centrifugo now.",
            )
        )
        .with_panel(
            single(
                "Live events pending",
                ('sum(chatplatform_publications{status="pending"})', "pending"),
                "none",
                "Live events in the outbox not yet published to Centrifugo.",
                red_above=100,
            )
        )
        .with_panel(
            single(
                "Subscriptions",
                ("sum(centrifugo_node_num_subscriptions)", "subscriptions"),
                "none",
                "Channel subscriptions of all connected clients.",
            )
        )
        .with_panel(
            graph(
                "Clients and users",
                [
                    ("sum(centrifugo_node_num_clients)", "connections"),
                    ("sum(centrifugo_node_num_users)", "distinct users"),
                ],
                "none",
                "Open WebSocket connections and the users behind them.",
            )
        )
        .with_panel(
            graph(
                "Publications",
                [
                    (
                        "sum("
                        + _rate('centrifugo_node_messages_sent_count{type="publication"}')
                        + ")",
                        "published",
                    ),
                    (
                        "sum by (method) "
                        f"({_rate('centrifugo_api_command_duration_seconds_count')})",
                        "API {{method}}",
                    ),
                ],
                "ops",
                "Publications per second Centrifugo handles, and server API calls by method.",
            )
        )
        .with_panel(
            graph(
                "Centrifugo API latency p95",
                [
                    (
                        _quantile(
                            0.95,
                            "method",
                            _rate("centrifugo_api_command_duration_seconds_histogram_bucket"),
                        ),
                        "{{method}}",
                    )
                ],
                "s",
                "Time Centrifugo takes to answer the server API (publish, presence) by method.",
                width=24,
            )
        )
        .with_row(dash.Row("Web API"))
        .with_panel(
            graph(
                "API latency p50 / p95",
                _p50_p95("", latency),
                "s",
                "Time the web app takes to answer, all views together.",
            )
        )
        .with_panel(
            graph(
                "API p95 latency by view",
                [(_quantile(0.95, "view", latency), "{{view}}")],
                "s",
                "Slowest routes first; the view label is the URL route name, never a raw path.",
            )
        )
        .with_panel(
            graph(
                "Requests by status",
                [
                    (
                        "sum by (status) "
                        f"({_rate('chatplatform_http_request_duration_seconds_count')})",
                        "{{status}}",
                    )
                ],
                "reqps",
                "Requests per second by HTTP status code.",
                width=24,
            )
        )
    )


DASHBOARDS: list[Callable[[], dash.Dashboard]] = [task_health, chat_activity, live_delivery]


def _number_panels(panels: list) -> None:
    """Give every panel (rows included) a stable id: its position in the dashboard."""
    for number, panel in enumerate(panels, start=1):
        panel.id_val = number


def build_all() -> dict[str, dict]:
    """Every dashboard as the JSON model Grafana stores, keyed by uid."""
    result = {}
    for make in DASHBOARDS:
        model = make().build()
        _number_panels(model.panels)
        result[model.uid] = json.loads(JSONEncoder(sort_keys=True).encode(model))
    return result


def render(model: dict) -> str:
    """The text written for one dashboard: stable key order, so diffs stay small."""
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


def iter_queries(model: dict) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL expression) of every query of a dashboard."""
    for panel in model.get("panels", []):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def write(directory: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard to `directory`/<uid>.json and remove stale ones."""
    directory.mkdir(parents=True, exist_ok=True)
    models = build_all()
    written = []
    for uid, model in models.items():
        path = directory / f"{uid}.json"
        path.write_text(render(model))
        written.append(path)
    for path in directory.glob("*.json"):
        if path not in written:
            path.unlink()
    return written
