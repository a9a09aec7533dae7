"""How settings are read (the environment, then `.env`), and Django's own: apps, middleware,
templates, the database, static files, reports and logging. The other modules import the readers
from here."""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# overwrite=False: a variable already in the process environment wins over `.env`.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_or(name: str, default: str) -> str:
    """The variable, or `default` when it is unset or empty (`.env.example` leaves such lines
    empty to mean "the default")."""
    return env(name, default="") or default


def whole_number(name: str, default: int, *, minimum: int = 1) -> int:
    """A whole number of at least `minimum` from the environment, or a start-up error naming it."""
    raw = env(name, default=str(default)).strip() or str(default)
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) < minimum:
        raise ImproperlyConfigured(
            f"{name} must be a whole number of at least {minimum}; got {raw!r}"
        )
    return int(raw)


# Off unless asked for: a process started with neither the environment nor `.env` saying
# DJANGO_DEBUG=true (the image run on its own, a forgotten variable) serves no debug pages and
# refuses placeholder secrets (security.secret). The development `.env` that scripts/setup.sh
# writes from `.env.example` says true, so `make up` runs with it on.
DEBUG = env.bool("DJANGO_DEBUG", default=False)


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
    "core",
    "accounts",
    "chats",
    "metrics",
    "observability",
    "monitoring",
    "notebooks",
    "devmail",
    "ratelimits",
    "web",
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

# --- Statistics and reports -------------------------------------------------------------------
REPORTS_DIR = BASE_DIR / env_or("REPORTS_DIR", str(VAR_DIR / "reports"))
# Report folders kept (metrics.reports.folders.prune_reports, after each report): the newest
# REPORTS_KEEP_LATEST (12: the last hour at one every 5 minutes; a render of `latest` needs at
# most 25 minutes of it) plus the newest of each of the REPORTS_KEEP_DAYS UTC days before today
# (30; 0: none). So never more than KEEP_LATEST + KEEP_DAYS folders (42) whatever the history;
# never the folder `latest` names, nor one still being written (`.tmp-*`).
REPORTS_KEEP_LATEST = whole_number("REPORTS_KEEP_LATEST", 12)
REPORTS_KEEP_DAYS = whole_number("REPORTS_KEEP_DAYS", 30, minimum=0)
# Days of counts each report's tables cover (charts: the last week of them).
REPORTS_RANGE_DAYS = whole_number("REPORTS_RANGE_DAYS", 30)

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
