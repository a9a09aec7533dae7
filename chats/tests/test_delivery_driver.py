"""The delivery driver's own guarantees, apart from what each pipeline sends (those are tested
end to end in chats/tests and metrics/tests with real SMTP servers, Centrifugo and workers)."""

import pytest
from celery import current_app

from chats.emails.delivery import EMAILS
from chats.live.delivery import PUBLICATIONS


@pytest.mark.parametrize(
    ("delivery", "task_name"),
    [
        (EMAILS, "chats.tasks.send_admin_notification_task"),
        (PUBLICATIONS, "chats.tasks.publish_event_task"),
    ],
)
def test_with_the_default_timeouts_a_claim_outlasts_its_task(delivery, task_name, settings) -> None:
    """A lease shorter than the task's hard time limit would let a second worker claim a row
    while the first is still sending it (tests shorten the client timeouts on purpose)."""
    settings.EMAIL_TIMEOUT, settings.CENTRIFUGO_TIMEOUT = 10, 3.0  # .env.example's defaults
    task = current_app.tasks[task_name]
    assert delivery.lease_seconds() > task.time_limit
