"""Settings for the whole platform, read from the environment first and `.env` second.

Every value has a safe development default so that `make up` works on a fresh clone; `.env.example`
documents each variable. Secrets have no real value here: `scripts/setup.sh` generates them into
the git-ignored `.env` on first run.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from core.secrets import require_secret

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# overwrite=False: a variable already in the process environment wins over `.env`.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_or(name: str, default: str) -> str:
    """The variable, or `default` when it is unset or empty (`.env.example` leaves such lines
    empty to mean "the default")."""
    return env(name, default="") or default


DEBUG = env.bool("DJANGO_DEBUG", default=True)


def secret(name: str, development_default: str, *, optional: bool = False) -> str:
    """A secret from the environment; empty means the development default, which (like any
    placeholder or a too-short key) is refused when DEBUG is off (core.secrets): fail closed.
    `optional`: empty is allowed with DEBUG off too (no SMTP login), a placeholder is not."""
    value = env_or(name, development_default)
    if not DEBUG:
        require_secret(name, value, allow_empty=optional)
    return value


SECRET_KEY = secret("DJANGO_SECRET_KEY", "insecure-development-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS (docs/security.md, "HTTPS"): `manage.py check --deploy` passes with DEBUG off ------
# TLS ends at a reverse proxy in front (compose publishes the app on 127.0.0.1 only). With DEBUG
# off, session and CSRF cookies travel over https only and browsers are told to use https for a
# year; development (DEBUG on, plain http) keeps both off.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Only behind a proxy that sets X-Forwarded-Proto and drops a client's own: then Django knows a
# request came over https (HSTS is sent, CSRF compares https origins).
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The proxy redirects http to https. If Django is told to as well, Prometheus and the health
# checks, which reach the app's port in plain http, are not redirected.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SILENCED_SYSTEM_CHECKS = [
    # security.W008, SECURE_SSL_REDIRECT off: the TLS proxy in front redirects http to https;
    # the app's own port is internal and answers Prometheus and health checks in plain http.
    "security.W008",
    # security.W021, SECURE_HSTS_PRELOAD off: preloading has browser vendors hard-code the domain
    # as https-only, hard to undo; its owner opts in with DJANGO_HSTS_PRELOAD=true.
    "security.W021",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "chats",
    "metrics",
    "observability",
    "monitoring",
    "notebooks",
    "devmail",
    "ratelimits",
]

MIDDLEWARE = [
    # First, so the latency histogram times everything below it (observability.prometheus).
    "observability.prometheus.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # 413 for a body over REQUEST_MAX_BYTES, before anything reads it (security headers still set).
    "core.request_size.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatplatform.urls"
WSGI_APPLICATION = "chatplatform.wsgi.application"
ASGI_APPLICATION = "chatplatform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite is the embedded default; DATABASE_URL=postgres://... switches to PostgreSQL.
# Relative paths are relative to the project; empty means var.
VAR_DIR = BASE_DIR / env_or("VAR_DIR", "var")
DATABASE_URL = env_or("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if not DATABASES["default"].get("ENGINE"):
    # Not echoed: the URL may hold a password.
    raise ImproperlyConfigured("DATABASE_URL must look like postgres://... or sqlite:///...")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Worker, beat and web share one file: wait for a lock instead of failing at once. IMMEDIATE:
    # a transaction takes the write lock when it begins, so one that read first cannot fail with
    # "database is locked" when it then writes while a worker holds the lock (seen at 50 msg/s).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    # A file (not :memory:) so that a Celery worker process started by a test sees the test DB.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
if env("TEST_DATABASE_NAME", default=""):
    # Lets two test runs on one machine use separate test databases.
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# A kept connection is checked before reuse, so a restarted PostgreSQL costs no failed task.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# centrifuge-js comes from npm (scripts/setup.sh) and is served from here, never from a CDN.
STATICFILES_DIRS = [
    ("vendor/centrifuge", BASE_DIR / "node_modules" / "centrifuge" / "dist"),
    # uPlot draws the in-app dashboards (/dashboards/), also from npm.
    ("vendor/uplot", BASE_DIR / "node_modules" / "uplot" / "dist"),
]
LOGIN_URL = "/admin/login/"
# Password of the demo users that `manage.py seed_demo` creates (random in .env).
DEMO_PASSWORD = env("DEMO_PASSWORD", default="demo-password-change-me")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    # Reverse proxies in front of the web processes: a client is the address the outermost of
    # them saw (X-Forwarded-For), not the proxy's. 0 (or empty): no proxy, REMOTE_ADDR; compose's
    # web defaults to 1, its TLS proxy (docs/security.md).
    "NUM_PROXIES": int(env_or("TRUSTED_PROXY_COUNT", "0")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chat Platform API",
    "DESCRIPTION": "Chats, members and messages; admins are emailed on membership changes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Operation ids and tags without the `api_` prefix, also now that /healthz is documented.
    "SCHEMA_PATH_PREFIX": r"/api/",
    # Served from the sidecar package, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The `<id:...>` path converter of chats/api/urls.py: an integer of at most 18 digits.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}
    },
}
MESSAGE_MAX_LENGTH = env.int("MESSAGE_MAX_LENGTH", default=4000)
# Largest request body accepted; 413 above it (core.request_size). The largest legitimate one is
# a message: MESSAGE_MAX_LENGTH characters, under 50 KB of JSON even with each one escaped
# (\uXXXX\uXXXX); admin forms are bounded by their 1000 fields. 256 KiB leaves 5x headroom and
# keeps a stranger's unauthenticated POST from costing megabytes of parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_MAX_BYTES", default=256 * 1024)

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

# --- Cache and rate limits (the ratelimits app; docs/security.md) ----------------------------
# One cache for every web process, so that a limit counts a client once however many processes
# serve it. Default: REDIS_URL's server, database 1 (apart from the broker's queues). Short
# timeouts: when Redis is down the limits are skipped with a logged warning (fail open) and a
# login waits at most about a second for it, instead of failing.
_REDIS = urlsplit(REDIS_URL)
CACHE_URL = env_or(
    "CACHE_URL",
    _REDIS._replace(path="/1").geturl() if _REDIS.scheme in ("redis", "rediss") else REDIS_URL,
)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    }
}


def rate_limit(name: str, default: str) -> str | None:
    """A limit in DRF's rate syntax ("10/min": at least 1 per second, minute, hour or day, also
    spelt s, sec, m, min, h, d); empty: none. Checked here, at start, so that a typo stops the
    process instead of failing every request that reads it; DRF's parse_rate converts it."""
    value = env(name, default=default).strip()
    if value and not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)s?", value):
        raise ImproperlyConfigured(
            f"{name} must look like 10/min, at least 1 per second, minute, hour or day (or be"
            " empty: no limit)"
        )
    return value or None


# Login and token attempts, per client address and per account (all three logins together).
AUTH_RATE_LIMIT = rate_limit("AUTH_RATE_LIMIT", "10/min")
# Registrations per client address.
REGISTER_RATE_LIMIT = rate_limit("REGISTER_RATE_LIMIT", "20/hour")
# Writes per user: messages posted, edited, deleted; members added, changed, removed; chats.
WRITE_RATE_LIMIT = rate_limit("WRITE_RATE_LIMIT", "60/min")

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
# `python -m chatplatform.workers GROUP`. No email, statistics or render task can reach a `live`
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
    "render-notebooks": {
        "task": "notebooks.tasks.render_notebooks_task",
        "schedule": timedelta(seconds=env.int("NOTEBOOKS_SECONDS", default=86400)),
    },
}

# Beat records when each entry last ran (in Redis), so /metrics shows an overdue entry.
CELERY_BEAT_SCHEDULER = "observability.celery_watch:RecordingScheduler"

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=1025)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = secret("EMAIL_HOST_PASSWORD", "", optional=True)
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# Below the email task's soft time limit, so a silent server fails the attempt, not the worker.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Chat Platform <noreply@chatplatform.local>")
EMAIL_MESSAGE_ID_DOMAIN = env("EMAIL_MESSAGE_ID_DOMAIN", default="chatplatform.local")
# Where users reach the web app, for links in emails (the one-click unsubscribe URL). RFC 8058
# wants https; plain http is accepted only with DEBUG on (development), and then is not conformant.
PUBLIC_BASE_URL = env_or(
    "PUBLIC_BASE_URL", f"http://127.0.0.1:{env.int('WEB_PORT', default=8000)}"
).rstrip("/")
if not DEBUG and not PUBLIC_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "PUBLIC_BASE_URL must be an https:// URL when DJANGO_DEBUG is off (email unsubscribe"
        f" links, RFC 8058, are built from it); got {PUBLIC_BASE_URL!r}."
    )
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=6)
# At most this many emails to one inbox per period, across all chats (DRF rate syntax, e.g.
# 20/hour; empty: no limit). The rest is held and sent as one digest (chats.digest) when the
# period has room, checked every EMAIL_DIGEST_SECONDS: nobody can flood an inbox through us.
EMAIL_RECIPIENT_LIMIT = rate_limit("EMAIL_RECIPIENT_LIMIT", "20/hour")
# Outbox rows untouched for this long are queued again by the sweeper.
OUTBOX_STALE_SECONDS = env.int("OUTBOX_STALE_SECONDS", default=120)
DEV_SMTP_WEB_PORT = env.int("SMTP_WEB_PORT", default=8025)
# The development SMTP server (manage.py run_devmail) keeps each email here; empty: $VAR_DIR/mail.
DEV_MAIL_DIR = BASE_DIR / env_or("DEV_MAIL_DIR", str(VAR_DIR / "mail"))

# --- Centrifugo -------------------------------------------------------------------------------
# Empty: the local Centrifugo of `make up`: WebSocket on CENTRIFUGO_PORT, the server API (with
# /metrics and /health) on CENTRIFUGO_INTERNAL_PORT, which browsers never reach.
_CENTRIFUGO_LOCAL = f"127.0.0.1:{env.int('CENTRIFUGO_PORT', default=8001)}"
_CENTRIFUGO_INTERNAL = f"127.0.0.1:{env.int('CENTRIFUGO_INTERNAL_PORT', default=8002)}"
CENTRIFUGO_API_URL = env_or("CENTRIFUGO_API_URL", f"http://{_CENTRIFUGO_INTERNAL}/api")
CENTRIFUGO_WS_URL = env_or("CENTRIFUGO_WS_URL", f"ws://{_CENTRIFUGO_LOCAL}/connection/websocket")
CENTRIFUGO_HTTP_API_KEY = secret("CENTRIFUGO_HTTP_API_KEY", "insecure-dev-api-key")
# At least 32 bytes even in development: PyJWT warns about shorter HS256 keys.
CENTRIFUGO_TOKEN_HMAC_SECRET_KEY = secret(
    "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY", "insecure-development-token-secret-of-32-bytes"
)
CENTRIFUGO_TIMEOUT = env.float("CENTRIFUGO_TIMEOUT", default=3.0)
# Live events are published by the web process right after commit (the short path, see
# docs/realtime.md), waiting at most this long; what fails goes to the `live` queue instead.
CENTRIFUGO_PUBLISH_AFTER_COMMIT = env.bool("CENTRIFUGO_PUBLISH_AFTER_COMMIT", default=True)
CENTRIFUGO_REQUEST_TIMEOUT = env.float("CENTRIFUGO_REQUEST_TIMEOUT", default=0.5)
CENTRIFUGO_TOKEN_TTL_SECONDS = env.int("CENTRIFUGO_TOKEN_TTL_SECONDS", default=300)
# Subscription tokens (chat:<id>, stats:live) live shorter: Centrifugo cannot revoke a token, so
# this bounds how long a removed member's cached one still subscribes (docs/realtime.md). Cheap:
# one token request per open channel per minute.
CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS = env.int(
    "CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS", default=60
)
# Worker attempts before a live event Centrifugo keeps refusing is `failed` (with backoff, about
# 3 minutes); the sweeper would otherwise re-queue it for ever.
PUBLICATION_MAX_ATTEMPTS = env.int("PUBLICATION_MAX_ATTEMPTS", default=8)

# --- Flower -----------------------------------------------------------------------------------
# Its basic auth; `python -m chatplatform.flower` refuses a placeholder password with DEBUG off
# (checked there, not here: only Flower needs it).
FLOWER_USER = env_or("FLOWER_USER", "admin")
FLOWER_PASSWORD = env("FLOWER_PASSWORD", default="")

# --- Statistics and reports -------------------------------------------------------------------
REPORTS_DIR = BASE_DIR / env_or("REPORTS_DIR", str(VAR_DIR / "reports"))
REPORTS_RETENTION_DAYS = env.int("REPORTS_RETENTION_DAYS", default=7)
# Days of counts each report's tables cover (charts: the last week of them).
REPORTS_RANGE_DAYS = env.int("REPORTS_RANGE_DAYS", default=30)

# --- Monitoring -------------------------------------------------------------------------------
# Where Grafana reaches Prometheus; `manage.py sync_dashboards` uses it when it creates the
# datasource in a Grafana that lacks it (docker compose provisions it instead).
PROMETHEUS_URL = env_or(
    "PROMETHEUS_URL", f"http://127.0.0.1:{env.int('PROMETHEUS_PORT', default=9090)}"
)
# What Prometheus must send to GET /metrics as `Authorization: Bearer ...`. Empty: /metrics is
# open, for development only; with DEBUG off the figures it exposes (users, messages, the queues)
# would be open to anyone who reaches the port, so a missing or placeholder token is refused.
METRICS_BEARER_TOKEN = secret("METRICS_BEARER_TOKEN", "")

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
