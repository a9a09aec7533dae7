"""Which queries a job runs, how long each takes and how many rows each one reads: recorded
through Django's execute_wrapper, then each one run again under EXPLAIN (ANALYZE) on PostgreSQL
(writes inside a rolled-back transaction). A query whose rows read grow with history, from one
size of a benchmark to the next, is one that scans history."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Plan nodes that read a table; what they read is their rows out plus the rows their filter
# removed, times their loops.
SCANS = {
    "Seq Scan",
    "Index Scan",
    "Index Only Scan",
    "Bitmap Heap Scan",
    "Bitmap Index Scan",
}


@contextmanager
def recorded() -> Iterator[list[dict[str, Any]]]:
    """Every query Django's default connection runs inside the block: sql, params, seconds."""
    from django.db import connection

    log: list[dict[str, Any]] = []

    def wrapper(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - started
            log.append({"sql": sql, "params": params, "many": many, "seconds": seconds})

    with connection.execute_wrapper(wrapper):
        yield log


def _walk(node: dict[str, Any], found: list[dict[str, Any]]) -> None:
    if node.get("Node Type") in SCANS:
        node_loops = node.get("Actual Loops", 1) or 1
        read = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node_loops
        found.append(
            {
                "node": node["Node Type"],
                "relation": node.get("Relation Name"),
                "index": node.get("Index Name"),
                "rows_read": int(read),
            }
        )
    for child in node.get("Plans", []):
        _walk(child, found)


def explain(sql: str, params: Any) -> dict[str, Any]:
    """The query run again under EXPLAIN (ANALYZE, FORMAT JSON): its scans and the rows each
    read, and the total. A write is rolled back."""
    from django.db import connection, transaction

    class Rollback(Exception):
        pass

    plan: dict[str, Any] = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0][0]
            raise Rollback
    except Rollback:
        pass
    scans: list[dict[str, Any]] = []
    _walk(plan["Plan"], scans)
    return {
        "scans": scans,
        "rows_read": sum(scan["rows_read"] for scan in scans),
        "plan_ms": plan.get("Execution Time"),
    }


EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def profile(func: Callable[[], Any]) -> dict[str, Any]:
    """Run `func` once recording its queries, then explain each: the total time, the time in
    queries, and per query (in order) its sql, seconds and the rows it read."""
    started = time.perf_counter()
    with recorded() as log:
        func()
    total = time.perf_counter() - started
    queries = []
    for entry in log:
        row = {"sql": entry["sql"], "seconds": entry["seconds"]}
        if not entry["many"] and entry["sql"].lstrip().upper().startswith(EXPLAINABLE):
            row.update(explain(entry["sql"], entry["params"]))
        queries.append(row)
    return {
        "seconds": total,
        "query_seconds": sum(q["seconds"] for q in queries),
        "queries": queries,
    }
