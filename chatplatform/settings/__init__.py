"""Settings for the whole platform, read from the environment first and `.env` second.

Every value has a default; `.env.example` documents each variable. DEBUG is off unless
DJANGO_DEBUG turns it on; with it off, placeholder secrets stop the start. Secrets have no real
value here: `scripts/setup.sh` generates them into the git-ignored `.env` on first run, which
also says DJANGO_DEBUG=true, so `make up` works on a fresh clone.

One module per concern, imported in this order, so that DJANGO_SETTINGS_MODULE stays
`chatplatform.settings`:

- base: how values are read (env, env_or, DEBUG, the paths), apps, middleware, templates, the
  database, static files, reports, logging;
- security: secrets that fail closed, hosts, HTTPS, the request size, the cache and rate limits;
- api: the REST API and its schema;
- queues: Redis, Celery, the queues, worker groups and beat schedule, the outbox;
- mail: email, its per-inbox cap, unsubscribe links, the development SMTP server;
- consent: confirming addresses, invitations, their limits;
- realtime: Centrifugo;
- telemetry: Prometheus, the /metrics token, Flower;
- retention: how long delivered, failed and refused rows are kept.
"""

# Every public name of each module becomes a setting here (Django reads the UPPERCASE ones); in
# the order listed above (not sorted): base first, the readers every other module uses.
# ruff: noqa: F403, I001
from .base import *
from .security import *
from .api import *
from .queues import *
from .mail import *
from .consent import *
from .realtime import *
from .telemetry import *
from .retention import *
