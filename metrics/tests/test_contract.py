"""The snapshot's one declaration (metrics.contract) against what is served and what is read.

GET /api/stats/ returns exactly its OpenAPI schema (every documented key, no other, at any depth,
of the documented type); the snapshot cannot be built with a key missing or undeclared; every
key the live page reads is declared; /metrics exports every declared family.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from drf_spectacular.generators import SchemaGenerator

import testing
from metrics import contract, snapshot
from metrics.models import JobRun

from .support import SNAPSHOT_AT, scrape

APP = Path(contract.__file__).parent
TYPES = {"integer": int, "number": (int, float), "string": str, "boolean": bool}


def documented_response() -> tuple[dict, dict]:
    """The 200 response schema of GET /api/stats/ and the components it refers to."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    response = schema["paths"]["/api/stats/"]["get"]["responses"]["200"]
    return response["content"]["application/json"]["schema"], schema["components"]["schemas"]


def mismatches(value: object, schema: dict, components: dict, path: str = "snapshot") -> list[str]:
    """Where `value` differs from the OpenAPI `schema`: a missing or extra key (every declared
    key is required), a null where none is allowed, a value of another type."""
    refs = [schema.get("$ref")] + [part.get("$ref") for part in schema.get("allOf", [])]
    for ref in filter(None, refs):
        schema = {**components[ref.rsplit("/", 1)[-1]], "nullable": schema.get("nullable")}
    if value is None:
        return [] if schema.get("nullable") else [f"{path}: null"]
    kind = schema["type"]
    if kind == "object" and "properties" in schema:
        declared = set(schema["properties"])
        found = [f"{path}: keys {sorted(set(value) ^ declared)}"] if set(value) != declared else []
        if set(schema.get("required", ())) != declared:
            found.append(f"{path}: optional keys {sorted(declared - set(schema['required']))}")
        for key in set(value) & declared:
            found += mismatches(value[key], schema["properties"][key], components, f"{path}.{key}")
        return found
    if kind == "object":
        items = schema["additionalProperties"]
        return [
            m for k, v in value.items() for m in mismatches(v, items, components, f"{path}.{k}")
        ]
    if kind == "array":
        items = schema["items"]
        return [
            m for i, v in enumerate(value) for m in mismatches(v, items, components, f"{path}[{i}]")
        ]
    if isinstance(value, bool) != (kind == "boolean") or not isinstance(value, TYPES[kind]):
        return [f"{path}: {value!r} is not {kind}"]
    if schema.get("format") == "date-time":
        datetime.fromisoformat(value)
    return []


def test_api_stats_is_exactly_its_documented_schema(stored: dict, client, settings) -> None:
    # Nobody listens there, so online_users is null (the nullable case), even after an earlier
    # test of the session started Centrifugo.
    settings.CENTRIFUGO_API_URL = f"http://127.0.0.1:{testing.free_port()}/api"
    JobRun.objects.create(job="fill_stats", last_success_at=SNAPSHOT_AT, last_duration_seconds=1.5)
    JobRun.objects.create(job="make_report", last_failure_at=SNAPSHOT_AT)
    snapshot.refresh_snapshot(now=SNAPSHOT_AT)
    client.force_login(get_user_model().objects.create(username="reader", is_staff=True))
    served = client.get("/api/stats/").json()
    assert served["top_chats"] and len(served["jobs"]) == 2 and served["online_users"] is None
    schema, components = documented_response()
    assert mismatches(served, schema, components) == []
    # The check itself sees a missing key, an extra one, a wrong type and a null:
    wrong = {**served, "extra": 1, "users": "3", "chats": None}
    del wrong["jobs"]
    assert sorted(mismatches(wrong, schema, components)) == [
        "snapshot.chats: null",
        "snapshot.users: '3' is not integer",
        "snapshot: keys ['extra', 'jobs']",
    ]


def test_a_snapshot_is_built_only_as_declared(stored: dict) -> None:
    with pytest.raises(ValueError, match=r"SnapshotSerializer\.extra"):
        contract.build({**stored, "extra": 1})
    ranked = [{**chat, "rank": n} for n, chat in enumerate(stored["top_chats"], start=1)]
    with pytest.raises(ValueError, match=r"TopChatSerializer\.rank"):
        contract.build({**stored, "top_chats": ranked})
    # A nullable one too: left out, it would otherwise pass as null.
    for left_out in ("chats", "online_users"):
        with pytest.raises(ValueError, match=rf"missing SnapshotSerializer\.{left_out}"):
            contract.build({key: value for key, value in stored.items() if key != left_out})
    assert contract.build(stored) == stored


def test_the_live_page_reads_only_declared_numbers() -> None:
    fields = contract.DECLARED.fields
    page = (APP / "templates/metrics/live.html").read_text()
    script = (APP / "static/metrics/live.js").read_text()

    def read(name: str) -> set[str]:
        """`name.<key>` in live.js, not as a property of something else (`ctx.data.type`)."""
        return set(re.findall(rf"(?<![\w.])(?:{name})\.(\w+)", script))

    counters = re.findall(r'data-key="(\w+)"', page)
    assert len(counters) >= 10
    assert [key for key in counters if not isinstance(fields.get(key), contract.Count)] == []
    assert read("snapshot|data") - set(fields) == set()
    assert read("chat") - set(fields["top_chats"].child.fields) == set()
    assert read("row") - set(fields["messages_per_minute"].child.fields) == set()
    assert {"generated_at", "top_chats", "messages_per_minute"} <= read("snapshot|data")


def test_metrics_exports_every_declared_family(stored: dict, client) -> None:
    scraped = scrape(client)
    families = [family.name for family in contract.families()]
    assert families == [  # the documented names (docs/metrics.md), in declaration order
        "users",
        "chats",
        "messages",
        "messages_last_hour",
        "active_users",
        "new_users_last_day",
        "notifications",
        "notifications_done",
        "publications",
        "publications_done",
        "retention_deleted",
        "tasks_failed_last_hour",
        "online_users",
        "top_chat_messages_last_day",
        "stats_job_last_success_timestamp_seconds",
        "stats_job_duration_seconds",
        "snapshot_age_seconds",
    ]
    assert [name for name in families if f"chatplatform_{name}" not in scraped] == []
    # A nested field is exported too: the publications' delivered and failed counts, as totals.
    publications = {s.labels["status"] for s in scraped["chatplatform_publications"]}
    assert publications == {"pending"}
    done = {s.labels["status"] for s in scraped["chatplatform_publications_done"]}
    assert done == {"sent", "failed"}
    emails = {s.labels["status"] for s in scraped["chatplatform_notifications_done"]}
    assert emails == {"sent", "failed", "folded", "cancelled"}
