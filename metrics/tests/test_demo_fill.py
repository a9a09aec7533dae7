"""A statistics fill after seed_demo counts the demo's whole history (chats.demo writes it in
the past, before the first fill, which starts at the first raw row)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from chats import demo
from chats.models import Message
from metrics import fill
from metrics.models import DailyCount, HourlyCount
from metrics.reports.make import make_report

User = get_user_model()
NOW = datetime(2025, 3, 18, 14, 37, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def seed() -> None:
    demo.seed(NOW, "demo-password")


def test_a_fill_after_seeding_counts_the_whole_history() -> None:
    seed()
    fill.fill_activity_counts(until=NOW)
    counted = sum(HourlyCount.objects.filter(stat="messages_sent").values_list("value", flat=True))
    # Every whole hour since the first message; the unfinished one counts once that lands too.
    whole_hours = Message.objects.filter(created_at__lt=NOW.replace(minute=0)).count()
    assert 2000 < whole_hours <= counted <= Message.objects.filter(created_at__lt=NOW).count()
    assert HourlyCount.objects.filter(stat="joins").count() > 20
    assert HourlyCount.objects.filter(stat="leaves").exists()
    assert sum(HourlyCount.objects.filter(stat="new_users").values_list("value", flat=True)) == (
        User.objects.count()
    )
    mau = DailyCount.objects.filter(stat="active_users_30d").order_by("day").last()
    dau = DailyCount.objects.filter(stat="active_users_1d").order_by("day").last()
    assert mau.value > dau.value > 0


NOTICE = "<strong>Includes demo data:</strong>"


def test_the_report_says_it_includes_demo_data_only_while_demo_chats_exist(
    tmp_path: Path,
) -> None:
    real = make_report(now=NOW, reports_dir=tmp_path / "real", days=2)
    assert json.loads((real / "manifest.json").read_text())["demo"] is False
    assert NOTICE not in (real / "index.html").read_text()
    seed()
    fill.fill_activity_counts(until=NOW)
    seeded = make_report(now=NOW, reports_dir=tmp_path / "seeded", days=2)
    assert json.loads((seeded / "manifest.json").read_text())["demo"] is True
    assert NOTICE in (seeded / "index.html").read_text()
