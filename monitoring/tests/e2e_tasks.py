"""Test-only Celery tasks for the monitoring end-to-end test: one succeeds, one fails on purpose,
one retries once. The test's worker imports this module with `--include`; production workers never
see it.
"""

from __future__ import annotations

from chatplatform.celery import app

SUCCEED = "monitoring_e2e.succeed"
FAIL = "monitoring_e2e.fail"
RETRY_ONCE = "monitoring_e2e.retry_once"


@app.task(name=SUCCEED)
def succeed(value: int) -> int:
    return value * 2


@app.task(name=FAIL)
def fail(value: int) -> None:
    raise ValueError(f"failing on purpose ({value})")


@app.task(name=RETRY_ONCE, bind=True, max_retries=1, default_retry_delay=0)
def retry_once(self, value: int) -> int:
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return value
