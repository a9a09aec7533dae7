"""Redis, Celery and the outbox: which queue each task goes to, the worker groups that serve
them, the beat schedule, and how long queued work may wait (docs/monitoring.md)."""

from datetime import timedelta

from kombu import Queue

from .base import TIME_ZONE, env, env_or, whole_number

# --- Redis and Celery -------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_or("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
# Flower and Prometheus see every task: events from workers, and the "sent" event from producers.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_TASK_TRACK_STARTED = True
# Each worker group sets its own prefetch (WORKER_GROUPS); this is the default for any other.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacknowledged task after the visibility timeout: keep every task's time
# limit and retry backoff well below it. kombu passes its own socket options to redis-py (whose
# 8.x defaults do not reach the broker): reads wait at most 5 s, which never cuts an idle
# worker or Flower off because kombu reads only sockets that are ready
# (chats/tests/test_idle_redis.py). Keepalive, and a health check every 10 s instead of 25, drop
# a connection that died silently (a NAT, a paused Redis) in about 20 s rather than 50 (kombu
# 5.7 gives up on a BRPOP after its 1 s timeout plus two health-check intervals).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "socket_keepalive": True,
    "health_check_interval": 10,
}
# When the broker connection is lost, the running tasks' messages go back to the queue: cancel
# the tasks rather than finish them twice (Celery 6's default; the outbox claim would stop a
# second email anyway). Set explicitly, Celery 5.7 stops warning on every reconnect.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Celery's Django fixup closes the database connection around every task (since 5.6) unless
# it is told to reuse it this many times: a limit never reached, so that connections live as
# CONN_MAX_AGE says (the workers' WORKER_DATABASE_CONN_MAX_AGE), closed as Django closes them
# after a request (chatplatform.celery.close_old_connections_around_task). A new PostgreSQL
# connection per task nearly doubled a live event's time in the worker.
CELERY_DB_REUSE_MAX = 2**31
# A request must not hang when Redis is down: publishing gives up quickly and the outbox
# sweeper queues the work once Redis is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# The hand-over of outbox rows to the broker after commit (core.outbox.send_tasks) waits
# at most this long for Redis, once, with no retry: a hung or black-holed Redis delays a request
# by this much at most, and what was not handed over stays in the outbox for the sweeper.
OUTBOX_HANDOVER_TIMEOUT = env.float("OUTBOX_HANDOVER_TIMEOUT", default=0.5)
# Outbox rows untouched for this long are queued again by the sweeper.
OUTBOX_STALE_SECONDS = env.int("OUTBOX_STALE_SECONDS", default=120)

# --- Queues and worker groups -----------------------------------------------------------------
# One declaration of which kind of work goes where. Every task is routed to the queue of its kind;
# each queue has a wait budget: how long its oldest task may wait before CeleryQueueWaitHigh
# fires (live: seconds; emails: minutes; statistics: about their period).
QUEUE_WAIT_BUDGETS = {
    "live": env.int("QUEUE_WAIT_BUDGET_LIVE", default=5),
    "email": env.int("QUEUE_WAIT_BUDGET_EMAIL", default=300),
    "stats": env.int("QUEUE_WAIT_BUDGET_STATS", default=120),
    "reports": env.int("QUEUE_WAIT_BUDGET_REPORTS", default=900),
    "maintenance": env.int("QUEUE_WAIT_BUDGET_MAINTENANCE", default=120),
}
CELERY_TASK_ROUTES = {
    "chats.tasks.publish_event_task": {"queue": "live"},
    "chats.tasks.end_subscriptions_task": {"queue": "live"},
    "chats.tasks.send_admin_notification_task": {"queue": "email"},
    "metrics.tasks.fill_stats_task": {"queue": "stats"},
    "metrics.tasks.publish_live_stats_task": {"queue": "stats"},
    "metrics.tasks.make_report_task": {"queue": "reports"},
    "notebooks.tasks.render_notebooks_task": {"queue": "reports"},
    # Small batched deletes and cheap catalogue reads: housekeeping, never bulk report work.
    "metrics.tasks.prune_task": {"queue": "maintenance"},
    "observability.tasks.measure_storage_task": {"queue": "maintenance"},
    "chats.tasks.requeue_stale_outbox_task": {"queue": "maintenance"},
    # Not `email`: during a flood that queue is long, and the digests must not wait behind it.
    "chats.tasks.build_email_digests_task": {"queue": "maintenance"},
}
# Declared, so that every process knows every queue (a purge empties them all).
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in QUEUE_WAIT_BUDGETS]
# A task nobody routed (a new one, a test's) lands with the housekeeping, never on `live`.
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
# The worker groups: which queues each serves, with how many processes, and how many tasks each
# process reserves ahead (prefetch multiplier). `make up` (Procfile), docker compose (a service
# per group, scaled with --scale) and the tests all start workers from this, through
# `python -m launchers.workers GROUP`. No email, statistics or render task can reach a `live`
# process. Live events are short: prefetch a few. The rest: one at a time (acks_late tasks).
# `nice`: bulk work yields the CPU to the web and live processes when cores are scarce (an email
# burst on 2 cores otherwise doubled the API's latency, and with it a live message's).
# Each process of a group serves its Prometheus metrics on WORKER_METRICS_PORT + the group's
# index below (make up); in compose every replica uses WORKER_METRICS_PORT itself.
WORKER_GROUPS = {
    "live": {
        "queues": ["live"],
        "concurrency": env.int("WORKER_LIVE_CONCURRENCY", default=2),
        "prefetch": 4,
    },
    "email": {
        "queues": ["email"],
        # SMTP is I/O: more processes than cores (docs/monitoring.md, "Scaling a group").
        "concurrency": env.int("WORKER_EMAIL_CONCURRENCY", default=4),
        "prefetch": 1,
        "nice": 10,
    },
    "background": {
        "queues": ["stats", "maintenance"],
        "concurrency": env.int("WORKER_BACKGROUND_CONCURRENCY", default=1),
        "prefetch": 1,
        "nice": 5,
    },
    "reports": {
        "queues": ["reports"],
        "concurrency": env.int("WORKER_REPORTS_CONCURRENCY", default=1),
        "prefetch": 1,
        "nice": 15,
        # pandas and matplotlib keep memory: a fresh process every few jobs.
        "max_tasks_per_child": 10,
    },
}
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=9811)
# A worker whose heartbeat is older than this is stale (killed or stuck): it alerts.
WORKER_HEARTBEAT_STALE_SECONDS = env.int("WORKER_HEARTBEAT_STALE_SECONDS", default=30)
# A beat entry is overdue when it last ran more than two periods plus this long ago.
BEAT_OVERDUE_GRACE_SECONDS = env.int("BEAT_OVERDUE_GRACE_SECONDS", default=60)

# The whole schedule in one place. Intervals come from the environment so tests can shorten them.
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-outbox": {
        "task": "chats.tasks.requeue_stale_outbox_task",
        "schedule": timedelta(seconds=env.int("OUTBOX_SWEEP_SECONDS", default=30)),
    },
    "build-email-digests": {
        "task": "chats.tasks.build_email_digests_task",
        "schedule": timedelta(seconds=env.int("EMAIL_DIGEST_SECONDS", default=60)),
    },
    "fill-activity-stats": {
        "task": "metrics.tasks.fill_stats_task",
        "schedule": timedelta(seconds=env.int("STATS_FILL_SECONDS", default=60)),
    },
    "write-activity-report": {
        "task": "metrics.tasks.make_report_task",
        "schedule": timedelta(seconds=env.int("REPORT_SECONDS", default=300)),
    },
    "publish-live-stats": {
        "task": "metrics.tasks.publish_live_stats_task",
        "schedule": timedelta(seconds=env.int("LIVE_STATS_SECONDS", default=5)),
    },
    "prune-old-rows": {
        "task": "metrics.tasks.prune_task",
        "schedule": timedelta(seconds=whole_number("RETENTION_SECONDS", 600)),
    },
    "measure-storage": {
        "task": "observability.tasks.measure_storage_task",
        "schedule": timedelta(seconds=whole_number("STORAGE_SECONDS", 60)),
    },
    "render-notebooks": {
        "task": "notebooks.tasks.render_notebooks_task",
        "schedule": timedelta(seconds=env.int("NOTEBOOKS_SECONDS", default=86400)),
    },
}

# Beat records when each entry last ran (in Redis), so /metrics shows an overdue entry.
CELERY_BEAT_SCHEDULER = "observability.celery_watch:RecordingScheduler"
