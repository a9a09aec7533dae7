"""The delivery driver's own guarantees, apart from any pipeline (those are tested end to end in
chats/tests and metrics/tests with real SMTP servers, Centrifugo and workers)."""

import contextlib

import pytest

from chats.models import Publication
from core.delivery import Delivery, delivery_task


def _never(row: Publication, after: contextlib.ExitStack) -> None:
    raise AssertionError("not called")


def test_a_claim_must_outlast_its_task(settings) -> None:
    """A lease shorter than the task's hard limit would let a second worker claim a row while
    the first is still sending it: the task is refused where it is declared."""
    settings.CENTRIFUGO_TIMEOUT = 1.0  # lease 3 x 1 + 30 = 33 s
    delivery = Delivery(
        model=Publication,
        send=_never,
        timeout_setting="CENTRIFUGO_TIMEOUT",
        max_attempts_setting="PUBLICATION_MAX_ATTEMPTS",
    )
    assert delivery.lease_seconds() == 33
    with pytest.raises(ValueError, match="outlast"):
        delivery_task(delivery, name="core.tests.too_long", soft_time_limit=30, time_limit=40)
