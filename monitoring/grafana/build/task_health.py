"""Task health: is the background work done, on time, and is what it keeps bounded?

Task throughput, failures and runtime come from Flower's metrics (task events); the queues, the
workers' heartbeats and beat's schedule from the web app's /metrics, which reads them from the
broker; time in queue from the workers' own metrics; the outbox (rows in flight, finished ones
counted as they finish) and storage (rows per table, the report folder, the retentions' oldest
rows and what the prune deleted) from the web app's, which serves what beat measured.
"""

from __future__ import annotations

from monitoring.grafana.build.panels import (
    Dashboard,
    Row,
    app_url_variable,
    graph,
    new_dashboard,
    p50_p95,
    rate,
    single,
    sum_by,
    with_trace_links,
)

# Every worker group's service in Jaeger (chatplatform-worker-<group>): a task's panel links to
# the slowest traces of all of them.
WORKERS = "chatplatform-worker-*"


def _events(task_type: str) -> str:
    """Flower's counter of task events of one type, e.g. task-failed."""
    return f'flower_events_total{{type=~"{task_type}"}}'


def _per_task(expr: str) -> str:
    return sum_by("task", expr)


FAILED, FINISHED = _events("task-failed"), _events("task-succeeded|task-failed")


def _broker(by: str, metric: str) -> str:
    """A gauge the web app reads from the broker: every web replica reports the same value, so
    take one (max), never the sum."""
    return f"max by ({by}) ({metric})"


def _app(by: str, metric: str) -> str:
    """A number of the web app's snapshot or storage measurement: every web replica serves the
    same stored copy, so take one (max), never the sum."""
    return f"max by ({by}) ({metric})" if by else f"max({metric})"


def dashboard() -> Dashboard:
    """Is the background work done, on time? Workers, throughput, failures, runtime, backlog."""
    runtime = rate("flower_task_runtime_seconds_bucket")
    waited = rate("chatplatform_task_queue_wait_seconds_bucket")
    return (
        new_dashboard(
            "Task health",
            "chatplatform-task-health",
            "Celery workers and tasks as Flower sees them (task events), the queues as the broker "
            "and the workers see them, beat's schedule, the outbox, and what is kept (storage). "
            "Latency panels link to their slowest traces.",
        )
        .with_variable(app_url_variable())
        .with_row(Row("Now"))
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
        .with_row(Row("Throughput and failures"))
        .with_panel(
            graph(
                "Tasks processed per task",
                [(_per_task(rate(_events("task-succeeded"))), "{{task}}")],
                "ops",
                "Successful task runs per second, by task name.",
            )
        )
        .with_panel(
            graph(
                "Tasks failed per task",
                [(_per_task(rate(FAILED)), "{{task}}")],
                "ops",
                "Failed task runs per second, by task name (a retry is not a failure).",
            )
        )
        .with_panel(
            graph(
                "Failure ratio per task",
                [(f"{_per_task(rate(FAILED))} / {_per_task(rate(FINISHED))}", "{{task}}")],
                "percentunit",
                "Failed / finished runs. The CeleryTaskFailureRatioHigh alert fires above 10%.",
            )
        )
        .with_panel(
            graph(
                "Retries per task",
                [(_per_task(rate(_events("task-retried"))), "{{task}}")],
                "ops",
                "Retries per second: a transient error (SMTP or Centrifugo down) being ridden out.",
            )
        )
        .with_row(Row("Latency and backlog"))
        .with_panel(
            with_trace_links(
                graph(
                    "Runtime p50 / p95 per task",
                    p50_p95("task", runtime),
                    "s",
                    "Time a task body takes on the worker. CeleryTaskRuntimeP95High fires above "
                    "10 s. Click a point for the slowest traces around it.",
                ),
                WORKERS,
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
                    (_app("status", "chatplatform_notifications"), "emails {{status}}"),
                    (_app("status", "chatplatform_publications"), "live events {{status}}"),
                ],
                "none",
                "Outbox rows still in flight: admin emails pending (or being sent) and held for "
                "a digest, live events for Centrifugo pending. EmailNotificationsBacklog fires "
                "above 20 pending emails for 15 minutes.",
            )
        )
        .with_panel(
            graph(
                "Outbox finished per second",
                [
                    (
                        _app("status", rate("chatplatform_notifications_done_total")),
                        "emails {{status}}",
                    ),
                    (
                        _app("status", rate("chatplatform_publications_done_total")),
                        "live events {{status}}",
                    ),
                ],
                "ops",
                "Outbox rows finishing: sent, failed (given up on), folded into a digest, or "
                "cancelled (the email's recipient no longer took email). Counted as they finish, "
                "so neither a restart nor the retention's deletes move them. Any failure fires "
                "EmailNotificationsFailing or LiveEventsFailing; a cancelled email fires nothing.",
            )
        )
        .with_row(Row("Queues"))
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
            with_trace_links(
                graph(
                    "Time in queue p50 / p95 by queue",
                    p50_p95("queue", waited),
                    "s",
                    "From send (or ETA) to a worker starting the task, as the workers record it. "
                    "CeleryQueueWaitP95High fires when the p95 stays over the queue's budget. "
                    "Click a point for the slowest traces around it.",
                    width=24,
                ),
                WORKERS,
            )
        )
        .with_row(Row("Workers and beat"))
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
        .with_row(Row("Storage"))
        .with_panel(
            graph(
                "Rows per table",
                [(_app("table", "chatplatform_table_rows"), "{{table}}")],
                "short",
                "Rows of each large table, PostgreSQL's estimate from its statistics (never a "
                "count; none on SQLite), measured every minute.",
            )
        )
        .with_panel(
            graph(
                "Table rows against budget",
                [
                    (
                        _app("table", "chatplatform_table_rows / chatplatform_table_rows_budget"),
                        "{{table}}",
                    )
                ],
                "percentunit",
                "Each table's rows as a share of its budget (what the deployment was sized for: "
                "docs/monitoring.md, Storage). TableRowsOverBudget fires past 100% for an hour.",
            )
        )
        .with_panel(
            graph(
                "Oldest row age against retention",
                [
                    (
                        _app(
                            "table, status",
                            "chatplatform_retention_oldest_age_seconds"
                            " / (chatplatform_retention_days * 86400)",
                        ),
                        "{{table}} {{status}}",
                    )
                ],
                "percentunit",
                "Age of the oldest row each retention covers, as a share of that retention "
                "(RETENTION_*_DAYS). Once history is older than the retention, the prune keeps it "
                "at about 100%; RetentionBehind fires a day past it.",
            )
        )
        .with_panel(
            graph(
                "Rows deleted by retention (per hour)",
                [
                    (
                        _app("table", "increase(chatplatform_retention_deleted_total[1h])"),
                        "{{table}}",
                    )
                ],
                "short",
                "Finished emails and live events, refusal rows and report folders deleted in the "
                "past hour, by table. Flat at 0 while nothing has expired yet; RetentionJobStale "
                "fires when the prune stops succeeding.",
            )
        )
        .with_panel(
            graph(
                "Report folder size",
                [(_app("", "chatplatform_reports_bytes"), "REPORTS_DIR")],
                "bytes",
                "Bytes of every report folder kept (REPORTS_KEEP_LATEST plus one a day for "
                "REPORTS_KEEP_DAYS) and the notebook renders.",
            )
        )
        .with_panel(
            graph(
                "Storage measured",
                [
                    (
                        "time() - " + _app("", "chatplatform_storage_measured_timestamp_seconds"),
                        "age",
                    )
                ],
                "s",
                "Seconds since beat last measured storage (every minute). "
                "StorageMeasurementStale fires past 5 minutes.",
            )
        )
    )
