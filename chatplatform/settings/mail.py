"""Email: the SMTP server, the per-inbox cap and digests, the one-click unsubscribe links'
base URL, and the development SMTP server."""

from django.core.exceptions import ImproperlyConfigured

from .base import BASE_DIR, DEBUG, VAR_DIR, env, env_or
from .security import rate_limit, secret

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
# 20/hour; empty: no limit). The rest is held and sent as one digest (chats.emails.digest) when the
# period has room, checked every EMAIL_DIGEST_SECONDS: nobody can flood an inbox through us.
EMAIL_RECIPIENT_LIMIT = rate_limit("EMAIL_RECIPIENT_LIMIT", "20/hour")
DEV_SMTP_WEB_PORT = env.int("SMTP_WEB_PORT", default=8025)
# The development SMTP server (manage.py run_devmail) keeps each email here; empty: $VAR_DIR/mail.
DEV_MAIL_DIR = BASE_DIR / env_or("DEV_MAIL_DIR", str(VAR_DIR / "mail"))
