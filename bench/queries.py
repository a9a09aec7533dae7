"""Which queries a job runs, how long each takes and how many rows each one reads.

`profile(func)` runs `func` once with a Django execute_wrapper that, before each statement,
runs it under EXPLAIN (ANALYZE) in a transaction or savepoint it rolls back, so the plan is
measured on the same data the statement then meets, writes included (they are undone). A query
whose rows read grow with history, from one size of a benchmark to the next, scans history.
The statements' own times are then those of a second, warm run: use it to find queries, not to
time the job (time it apart, without the wrapper)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# Plan nodes that read a table or an index: their rows out plus the rows their filter removed,
# times their loops.
SCANS = {
    "Seq Scan",
    "Index Scan",
    "Index Only Scan",
    "Bitmap Heap Scan",
}
EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def _walk(node: dict[str, Any], found: list[dict[str, Any]]) -> None:
    if node.get("Node Type") in SCANS:
        loops = node.get("Actual Loops", 1) or 1
        read = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
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


def _explain(sql: str, params: Any, context: dict) -> dict[str, Any]:
    """EXPLAIN (ANALYZE) of the statement about to run, undone: its scans and rows read. On a
    cursor of its own on the same session (the statement's may be a server-side one), past the
    wrappers."""
    import psycopg

    connection = context["connection"]
    begin, undo = (
        ("SAVEPOINT bench_explain", "ROLLBACK TO SAVEPOINT bench_explain")
        if connection.in_atomic_block
        else ("BEGIN", "ROLLBACK")
    )
    with psycopg.ClientCursor(connection.connection) as cursor:
        cursor.execute(begin)
        try:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0][0]
        except psycopg.Error as exc:  # a plan we cannot get is reported, not fatal
            return {"error": repr(exc)[:300]}
        finally:
            cursor.execute(undo)
    scans: list[dict[str, Any]] = []
    _walk(plan["Plan"], scans)
    return {"scans": scans, "rows_read": sum(scan["rows_read"] for scan in scans)}


def profile(func: Callable[[], Any]) -> dict[str, Any]:
    """Run `func` once, each statement explained first (see the module docstring): the time in
    statements, and per statement, in order, its sql, seconds and rows read."""
    from django.db import connection

    queries: list[dict[str, Any]] = []

    def wrapper(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        row: dict[str, Any] = {"sql": sql}
        if not many and sql.lstrip().upper().startswith(EXPLAINABLE):
            row.update(_explain(sql, params, context))
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            row["seconds"] = time.perf_counter() - started
            queries.append(row)

    with connection.execute_wrapper(wrapper):
        func()
    return {"query_seconds": sum(q["seconds"] for q in queries), "queries": queries}
