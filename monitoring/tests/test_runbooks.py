"""The runbooks page (/runbooks/, where every alert email links) shows staff each alert's
section, the one its runbook_url names, and nobody else any of it."""

from __future__ import annotations

import pytest
import yaml
from django.contrib.auth import get_user_model

from monitoring.prometheus.config import ALERTS


@pytest.mark.django_db
def test_runbooks_page_shows_staff_every_alert_section(client) -> None:
    staff = get_user_model().objects.create_user("ops", password="pw-for-ops", is_staff=True)
    client.force_login(staff)
    response = client.get("/runbooks/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<h2 id="celeryqueuenoworker">CeleryQueueNoWorker</h2>' in page
    # Each alert's runbook_url (an email's link) lands on its section of this page.
    links = {
        rule["alert"]: rule["annotations"].get("runbook_url", "")
        for group in yaml.safe_load(ALERTS.read_text())["groups"]
        for rule in group["rules"]
    }
    assert len(links) == 25
    lost = {
        name: url
        for name, url in links.items()
        if not url.startswith("/runbooks/#") or f'id="{url.partition("#")[2]}"' not in page
    }
    assert lost == {}
    assert 'id="drill-stop-a-worker-group"' in page
    assert "pkill -STOP" in page


@pytest.mark.django_db
def test_runbooks_page_refuses_others(client) -> None:
    response = client.get("/runbooks/")
    assert response.status_code == 302 and "login" in response["Location"]
    user = get_user_model().objects.create_user("bob", password="pw-for-bob")
    client.force_login(user)
    response = client.get("/runbooks/")
    assert response.status_code == 302 and "login" in response["Location"]
    assert "CeleryQueueNoWorker" not in response.content.decode()
