"""Every benchmark of bench/ runs here at a tiny size, as `make bench` runs it (a child process,
`python -m bench.<module>`, on a throwaway database of this PostgreSQL server), so a change that
breaks one fails CI rather than the next `make bench`.

Each must exit 0 and write its JSON result with the figures it promises, as finite numbers, and
the counts it checks (every email once, every live message delivered). The figures themselves
are not judged: at these sizes they measure start-up and noise, and speed belongs to
`make bench`, not to tests. Seconds each, about three minutes in all on two cores.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the benchmarks run on PostgreSQL (COPY, as make bench runs them)",
    ),
]


def run_benchmark(tmp_path: Path, module: str, *flags: str, database: bool = True) -> dict:
    """Run bench.<module> with `flags` (and this server's --database-url) into a folder of its
    own; assert it exits 0 and wrote exactly one result; return that result."""
    results = tmp_path / "results"
    argv = [sys.executable, "-m", f"bench.{module}", "--results", str(results), *flags]
    if database:
        argv += ["--database-url", os.environ["DATABASE_URL"]]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    output = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert done.returncode == 0, output
    written = list(results.glob("*.json"))
    assert len(written) == 1, output
    return json.loads(written[0].read_text())


def assert_finite(result: dict, *paths: str) -> None:
    """Each dotted path of `result` holds a finite number (not NaN, not missing)."""
    for path in paths:
        value: Any = result
        for key in path.split("."):
            assert isinstance(value, dict) and key in value, f"{path}: no {key!r}"
            value = value[key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (path, value)
        assert math.isfinite(value), (path, value)


def assert_latency_row(row: dict) -> None:
    """A latency phase of the live benchmarks: percentiles, and every message delivered."""
    assert_finite(row, "p50_ms", "p99_ms", "max_ms", "call_p50_ms", "call_p99_ms")
    assert row["lost"] == 0 and row["delivered_pct"] == 100.0, row


def test_bench_realtime(tmp_path: Path) -> None:
    result = run_benchmark(
        tmp_path, "bench_realtime", "--subscribers", "3", "--rates", "10", "--duration", "1"
    )
    (run,) = result["runs"]
    for key in ["floor", *result["paths"]]:
        assert_latency_row(run[key])
        assert_finite(run[key], "sent_per_s")
    assert set(result["sustains_up_to"]) == {"floor", *result["paths"]}


def test_bench_centrifugo_nodes(tmp_path: Path) -> None:
    result = run_benchmark(
        tmp_path,
        "bench_centrifugo_nodes",
        *("--subscribers", "3", "--rate", "10", "--duration", "1", "--rounds", "1"),
        *("--connections", "20", "--settle", "0.5", "--memory-engines", "memory"),
        database=False,
    )
    assert set(result["latency"]) == {"baseline", "same-node", "cross-node"}
    for row in result["latency"].values():
        assert_latency_row(row)
        assert_finite(row, "p50_ratio", "p99_ratio")
    memory = result["memory"]["memory"]
    (step,) = memory["steps"]
    assert step["held"] == 20 and step["failed"] == 0, step
    assert_finite(step, "rss_kib", "kib_per_connection")
    assert_finite(memory, "connections_per_gib")


def test_bench_head_of_line(tmp_path: Path) -> None:
    result = run_benchmark(
        tmp_path,
        "bench_head_of_line",
        *("--subscribers", "2", "--messages", "5", "--rate", "20", "--emails", "20"),
        *("--single-pool", "--single-pool-messages", "3", "--single-pool-wait", "10"),
    )
    now = result["after_commit"]
    for key in ("no_backlog", "backlog"):
        assert_latency_row(now[key])
    assert_finite(now, "ratio_p50", "ratio_p99")
    emails = result["emails_check"]
    assert emails["received"] == emails["distinct_message_ids"] == 20, emails
    assert emails["duplicate_message_ids"] == 0, emails
    before = result["single_pool_before"]
    for key in ("no_backlog", "backlog"):
        assert_finite(before[key], "p50_ms", "p99_ms")  # lower bounds past the cap
    assert_finite(before, "ratio_p99")


def test_bench_capacity(tmp_path: Path) -> None:
    result = run_benchmark(
        tmp_path,
        "bench_capacity",
        *("--connections", "1,2", "--duration", "1", "--profile-duration", "2"),
        *("--users", "2", "--chats", "2", "--read-messages", "20"),
    )
    assert {row["endpoint"] for row in result["steps"]} == {"floor", "healthz", "read", "post"}
    for row in result["steps"]:
        assert_finite(row, "rps", "p50_ms", "p99_ms", "cpu_cores.web", "cpu_cores.machine_busy")
        assert row["requests"] > 0, row
    for row in [r for r in result["steps"] if r["endpoint"] == "post"]:
        assert row["live"]["messages"] > 0 and row["live"]["delivered"] == row["live"]["messages"]
        assert_finite(row["live"], "p50_ms", "p99_ms")
    assert set(result["summary"]) == {"floor", "healthz", "read", "post"}
    assert result["gunicorn"]["workers"] == result["gunicorn"]["workers_running"] > 0
    assert result["goal"]["post_over_floor"] is None or result["goal"]["post_over_floor"] > 0
    profile = result["profile"]
    assert profile["samples_in_handler"] > 0 and profile["inclusive"], profile
    assert (tmp_path / "results" / profile["raw_file"]).is_file()


def test_bench_email(tmp_path: Path) -> None:
    result = run_benchmark(tmp_path, "bench_email", "--requests", "20", "--joins", "20")
    cost = result["request_cost"]
    assert_finite(cost, "on.p50_ms", "on.p99_ms", "off.p50_ms", "off.p99_ms", "ratio_p50")
    throughput = result["throughput"]
    assert_finite(
        throughput, "pipeline_emails_per_s", "loop_emails_per_s", "ratio_pipeline_to_loop_time"
    )
    assert throughput["received"] == throughput["emails"] == 40, throughput
    assert throughput["duplicate_message_ids"] == 0, throughput


def test_bench_email_scale(tmp_path: Path) -> None:
    result = run_benchmark(
        tmp_path,
        "bench_email_scale",
        *("--joins", "4", "--pool-one-joins", "2", "--smtp-delay", "0.05"),
    )
    assert set(result["pools"]) == {"4", "1"}
    for pool in result["pools"].values():
        assert_finite(pool, "one.emails_per_s", "two.emails_per_s", "ratio_two_to_one")
        for phase in pool["phases"]:
            assert phase["received"] == phase["distinct_message_ids"] == phase["emails"], phase
            assert phase["missing_message_ids"] == phase["duplicate_message_ids"] == 0, phase


def test_bench_stats(tmp_path: Path) -> None:
    result = run_benchmark(
        tmp_path,
        "bench_stats",
        *("--messages", "2000", "--users", "200", "--chats", "20", "--new", "500"),
    )
    assert_finite(
        result["figures"],
        *("load_s", "rebuild_s", "incremental_s", "incremental_noop_s", "report_s"),
        *("snapshot_s", "scrape_s", "naive_s"),
    )
    assert_finite(result["ratios"], *result["ratios"])
    assert len(result["ratios"]) == 5


def test_bench_year(tmp_path: Path) -> None:
    from bench.bench_year import FIGURES, OTHERS

    result = run_benchmark(
        tmp_path, "bench_year", "--sizes", "2000,20000", "--new", "200", "--repeat", "2"
    )
    assert [run["size"] for run in result["runs"]] == [2000, 20000]
    figures = [key for key, _, _ in FIGURES + OTHERS]
    for run in result["runs"]:
        assert_finite(run["figures"], *figures)
        assert run["details"]["rows"]["messages"] == run["size"]
        assert run["details"]["swept"] == {"notifications": 50, "publications": 200}
        assert run["details"]["digests"] == 3
        assert sum(run["details"]["retention_deleted"][0].values()) > 0
    naive = [f"naive / fill_new at {size}" for size in (2000, 20000)]
    assert_finite(result["ratios"], *figures, *naive)
    assert {key for key, _, _ in FIGURES} <= set(result["goals"])
    # Every job's statements were explained at both sizes (bench.queries), to name what scans.
    for run in result["runs"]:
        profiled = run["details"]["profile"]
        assert {key for key, _, _ in FIGURES} - {"report_peak_mb"} <= set(profiled)
        assert all(
            "rows_read" in q for q in profiled["snapshot_s"]["queries"] if "SELECT" in q["sql"]
        )
    assert {"snapshot_s", "fill_noop_s"} <= set(result["history_readers"])


def test_bench_tracing(tmp_path: Path) -> None:
    result = run_benchmark(
        tmp_path,
        "bench_tracing",
        *("--rounds", "2", "--requests", "3", "--warmup", "1", "--traces", "1"),
    )
    assert set(result["configs"]) == {"off", "on", "every"}
    for kind in ("post", "member"):
        rows = result["latency"][kind]
        for name in ("off", "on", "every"):
            assert_finite(rows[name], "p50_ms", "p90_ms", "p99_ms")
            assert rows[name]["requests"] == 6, rows[name]
        assert_finite(rows["on"], "ratio_p50", "ratio_p99", "cpu_ms")
        assert isinstance(result["goal"][kind]["met"], bool)
    assert_finite(result["web_cpu"]["on"], "cpu_ms_per_request")
    # What a traced request recorded, read back from Jaeger: the post's Centrifugo publish,
    # the add's two deliveries down to the SMTP reply in the email worker.
    spans = result["spans"]
    assert spans["post"]["by_operation"]["chatplatform-web: centrifugo publish"] == 1, spans
    assert spans["member"]["by_operation"]["chatplatform-worker-email: smtp send"] == 2, spans
    # Every request is traced when every one is sampled; every add sent both admins' emails.
    assert result["sampled"]["every"]["traces"] == result["sampled"]["every"]["requests"] == 14
    emails = result["emails"]
    assert emails["received"] == emails["expected"] == 3 * 2 * 7, emails
    assert emails["duplicate_message_ids"] == 0, emails


def test_bench_browser_lag(tmp_path: Path) -> None:
    result = run_benchmark(
        tmp_path,
        "bench_browser_lag",
        *("--pages", "1", "--subscribers", "2", "--rate", "10", "--duration", "3"),
        *("--warmup", "3", "--web-workers", "1"),
    )
    # The page reported what it received (by beacon on leaving, at least), into the histogram.
    browser = result["browser"]
    assert 0 < browser["values"] <= result["sent"], browser
    assert_finite(browser, "p50_ms", "p95_ms", "mean_ms")
    lag = result["subscribers_lag"]
    assert lag["deliveries"] == lag["expected_deliveries"] == 2 * result["sent"] > 0, lag
    assert_finite(lag, "p50_ms", "p95_ms", "p50_bucket_ms", "p95_bucket_ms")
    assert_finite(result["difference"], "p50_ms", "p95_ms")
