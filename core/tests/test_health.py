"""GET /healthz: 200 when the database and Redis answer, 503 naming what is down."""

from __future__ import annotations

from rest_framework.test import APIClient

import testing


def test_healthz_is_200_when_database_and_redis_answer(db, redis_service):
    """`redis_service` points CELERY_BROKER_URL, the Redis that /healthz pings, at itself."""
    response = APIClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "down": [], "database": True, "redis": True}


def test_healthz_is_503_naming_redis_when_it_is_down(db, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{testing.free_port()}/0"  # nobody there
    response = APIClient().get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]
    assert response.json()["database"] is True
