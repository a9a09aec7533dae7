"""The request cost of tracing (issue 27): the same requests to a web process tracing at the
default sampling and to one not tracing at all, in the same run.

Real services on a throwaway database of --database-url: Redis, Centrifugo (a post publishes
after commit, from the web process), a worker of the `email` group sending to an SMTP sink
(testing.SmtpProcess), a Jaeger v2 (testing.JaegerProcess), and one gunicorn per configuration
(make prod's launchers/gunicorn_conf.py, one sync worker, its database connection kept for
600 s, DEBUG off):

- off: no OTEL_* variable: nothing is installed (observability.tracing);
- on: OTEL_EXPORTER_OTLP_ENDPOINT alone, so the default sampling (tracing.DEFAULT_SAMPLER at
  DEFAULT_SAMPLER_ARG: a tenth of the requests; every delivery) and the SDK's default batch
  delay, as a deployment runs; the worker traces the same way;
- every (unless --no-every): the same with OTEL_TRACES_SAMPLER=parentbased_always_on, every
  request traced (make up's sampling).

Two requests, each sent one after another from a requests.Session (gunicorn's sync worker
closes the connection after each answer, in every configuration alike):

- post: POST /api/chats/<id>/messages/ (the message, its publication, Centrifugo's publish);
- member: POST /api/chats/<id>/members/, a fresh user each time, into a chat with two admins
  who want emails: each add writes two notification rows, whose tasks the worker sends.

--rounds rounds, each running --requests of each request against each configuration in turn
(off, on, every, then reversed the next round), so drift on this shared machine hits all alike.
Reported per configuration and request: p50, p90, p99, and the ratio to `off` at p50 against
issue 27's goal (<= 1.05); then what a traced request records: the spans of a few of its traces
as Jaeger returns them (by service and operation, the worker's deliveries included).

    .venv/bin/python -m bench.bench_tracing --database-url "$(scripts/postgres.sh)"
    .venv/bin/python -m bench.bench_tracing --database-url ... --rounds 4 --requests 25
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from bench.common import (
    ROOT,
    add_common_args,
    chat_with_two_admins,
    inbox_tally,
    newcomers,
    percentile,
    setup_django,
    throwaway_run,
    write_results,
)

GOAL_P50 = 1.05  # issue 27: tracing on at most 5 % slower at p50
WEB, WORKER = "chatplatform-web", "chatplatform-worker-email"
REQUESTS = {
    "post": "POST a message (publication, Centrifugo publish)",
    "member": "POST a member (2 admin emails queued)",
}
BATCH_DELAY = 5  # s, OTEL_BSP_SCHEDULE_DELAY's default: how long spans may wait in a process
EVERY = {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds over every configuration")
    parser.add_argument(
        "--requests", type=int, default=50, help="requests of each kind per configuration a round"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="requests of each kind per configuration, unmeasured"
    )
    parser.add_argument(
        "--no-every", action="store_true", help="leave out the every-request configuration"
    )
    parser.add_argument("--traces", type=int, default=5, help="traces read back per request kind")
    add_common_args(parser, database_help="PostgreSQL server to create a throwaway database on")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("--database-url: a PostgreSQL server (as make bench and make prod run)")
    return args


def main() -> None:
    args = parse_args()
    with throwaway_run(args.database_url, "tracing") as (workdir, url, stack):
        results = run(args, workdir, url, stack)
    report(results)
    write_results(args.results, "tracing", results)


# --- the services -----------------------------------------------------------------------------


class Services:
    """Redis, Centrifugo (secrets a deployment accepts) and, with `smtp`, an SMTP sink on free
    ports, Django set up in this process on `database_url` against them, and `web_env`: a
    deployment's environment (DEBUG off, fresh secrets, its VAR_DIR in `workdir`) for the web
    and worker processes, with no OTEL_* variable. Everything started goes on `stack`."""

    def __init__(
        self, database_url: str, workdir: Path, stack: contextlib.ExitStack, smtp: bool = True
    ) -> None:
        import testing

        self.workdir = workdir
        self.redis = stack.enter_context(testing.RedisProcess())
        self.hub = stack.enter_context(
            testing.CentrifugoProcess(
                api_key=secrets.token_urlsafe(48), token_secret=secrets.token_urlsafe(48)
            )
        )
        self.smtp = (
            stack.enter_context(testing.SmtpProcess(mail_dir=workdir / "inbox")) if smtp else None
        )
        os.environ.update(
            DATABASE_URL=database_url,
            LOG_LEVEL="WARNING",
            REDIS_URL=self.redis.url,
            CELERY_BROKER_URL=self.redis.url,
            **self.hub.django_env,
        )
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
        for key in [k for k in os.environ if k.startswith("OTEL_")]:
            del os.environ[key]  # this process and the children it starts: tracing off
        setup_django()
        self.web_env = testing.production_env(
            VAR_DIR=workdir / "var",
            LOG_LEVEL="WARNING",
            REDIS_URL=self.redis.url,
            CELERY_BROKER_URL=self.redis.url,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            WRITE_RATE_LIMIT="",
            AUTH_RATE_LIMIT="",
            EMAIL_RECIPIENT_LIMIT="",
            EMAIL_TIMEOUT="5",
            **self.hub.django_env,
            **(self.smtp.django_env if self.smtp else {}),
        )

    def collectstatic(self) -> None:
        """The static files a page loads, where WhiteNoise serves them with DEBUG off."""
        from testing.processes import collectstatic

        collectstatic(self.web_env)

    def web(self, name: str, stack: contextlib.ExitStack, workers: int = 1, **env: str) -> Any:
        """A gunicorn as make prod runs it (launchers/gunicorn_conf.py: database connection
        kept 600 s), `workers` sync workers, its own Prometheus folder; `env` over web_env."""
        from testing.production import GunicornProcess

        metrics_dir = self.workdir / f"prometheus-{name}"
        metrics_dir.mkdir()
        process_env = {**self.web_env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **env}
        web = GunicornProcess(process_env, workers=workers)
        web.name = name
        return stack.enter_context(web)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, every thread) of `pid` and its living children: a gunicorn
    master and its workers, a span exporter's thread included."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def token(user: Any) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


# --- measuring --------------------------------------------------------------------------------


class Target:
    """One configuration's web process, its chat (two admins who want emails), the owner's
    session, and the fresh users still to add."""

    def __init__(self, name: str, web: Any, chat: Any, owner: Any, users: list) -> None:
        self.name, self.web, self.chat, self.users = name, web, chat, list(users)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token(owner)}"
        self.sent = 0
        self.added = 0

    def call(self, kind: str) -> float:
        """One request of `kind`; its milliseconds, from send to the whole answer read."""
        if kind == "post":
            self.sent += 1
            path, body = f"/api/chats/{self.chat.pk}/messages/", {"text": f"trace {self.sent}"}
        else:
            path, body = f"/api/chats/{self.chat.pk}/members/", {"user_id": self.users.pop().pk}
            self.added += 1
        started = time.perf_counter()
        response = self.session.post(self.web.url + path, json=body, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 201:
            raise RuntimeError(f"{self.name} {kind}: HTTP {response.status_code} {response.text}")
        return elapsed


def measure(args: argparse.Namespace, targets: list[Target]) -> dict[str, dict[str, list]]:
    """Warm-up, then --rounds rounds of --requests of each kind against each target in turn,
    the order reversed every other round. Per target and kind: every timing, and each round's
    median (its spread shows the noise)."""
    for target in targets:
        for kind in REQUESTS:
            for _ in range(args.warmup):
                target.call(kind)
    timings: dict[str, dict[str, list]] = {t.name: {kind: [] for kind in REQUESTS} for t in targets}
    medians: dict[str, dict[str, list]] = {t.name: {kind: [] for kind in REQUESTS} for t in targets}
    cpu: dict[str, dict[str, float]] = {t.name: dict.fromkeys(REQUESTS, 0.0) for t in targets}
    cpu_start = {t.name: cpu_seconds(t.web.proc.pid) for t in targets}
    for round_no in range(args.rounds):
        order = targets if round_no % 2 == 0 else targets[::-1]
        for kind in REQUESTS:
            for target in order:
                before = cpu_seconds(target.web.proc.pid)
                values = [target.call(kind) for _ in range(args.requests)]
                cpu[target.name][kind] += cpu_seconds(target.web.proc.pid) - before
                timings[target.name][kind] += values
                medians[target.name][kind].append(statistics.median(values))
        line = "  ".join(
            f"{t.name} {kind} {medians[t.name][kind][-1]:.1f}" for kind in REQUESTS for t in targets
        )
        print(f"round {round_no + 1}/{args.rounds}: p50 ms {line}", flush=True)
    # The whole phase, in a process's own batches and between them (a span exporter's thread
    # sends while other configurations are measured).
    cpu_total = {t.name: cpu_seconds(t.web.proc.pid) - cpu_start[t.name] for t in targets}
    return {
        "timings": timings,
        "round_medians": medians,
        "cpu_in_batches_s": cpu,
        "cpu_total_s": cpu_total,
    }


def ratio(a: float, b: float) -> float:
    """a / b; NaN for b = 0 (no CPU tick counted at a tiny size)."""
    return a / b if b else float("nan")


def latency_table(measured: dict, names: list[str]) -> dict:
    """p50/p90/p99/mean per configuration and kind, and each one's ratios to `off`."""
    table: dict[str, dict] = {}
    for kind in REQUESTS:
        rows = {}
        for name in names:
            values = measured["timings"][name][kind]
            rounds = measured["round_medians"][name][kind]
            rows[name] = {
                "requests": len(values),
                "p50_ms": percentile(values, 50),
                "p90_ms": percentile(values, 90),
                "p99_ms": percentile(values, 99),
                "mean_ms": statistics.fmean(values),
                "round_p50_min_ms": min(rounds),
                "round_p50_max_ms": max(rounds),
                # the web process's CPU during this kind's batches, per request (10 ms ticks)
                "cpu_ms": 1000 * measured["cpu_in_batches_s"][name][kind] / len(values),
            }
        off = rows["off"]
        for name in names:
            if name != "off":
                row = rows[name]
                row["ratio_p50"] = row["p50_ms"] / off["p50_ms"]
                row["ratio_p90"] = row["p90_ms"] / off["p90_ms"]
                row["ratio_p99"] = row["p99_ms"] / off["p99_ms"]
                row["added_p50_ms"] = row["p50_ms"] - off["p50_ms"]
                row["ratio_cpu"] = ratio(row["cpu_ms"], off["cpu_ms"])
                # Per round: this configuration's median over off's in the same round.
                pairs = zip(
                    measured["round_medians"][name][kind],
                    measured["round_medians"]["off"][kind],
                    strict=True,
                )
                row["ratio_p50_of_rounds"] = statistics.median(a / b for a, b in pairs)
        table[kind] = rows
    return table


# --- what a traced request records ------------------------------------------------------------


def root_operation(trace: dict) -> str:
    """The operation of the trace's root span (no parent within the trace)."""
    ids = {span["spanID"] for span in trace["spans"]}
    for span in trace["spans"]:
        parents = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        if not parents or parents[0] not in ids:
            return span["operationName"]
    return ""


def kind_of(trace: dict) -> str | None:
    root = root_operation(trace)
    if not root.startswith("POST"):
        return None
    return "member" if "members" in root else "post" if "messages" in root else None


def complete(trace: dict, kind: str) -> bool:
    """A member add's trace is whole once both admin emails' SMTP sends are in it."""
    operations = Counter(span["operationName"] for span in trace["spans"])
    return kind == "post" or operations["smtp send"] >= 2


def spans_recorded(jaeger: Any, chat_id: int, count: int, timeout: float = 30) -> dict:
    """The last `count` whole traces of each request kind in the chat, read back from Jaeger:
    spans per trace, by service and by operation (ids in names folded)."""
    import testing

    def found() -> dict[str, list[dict]] | None:
        traces = jaeger.find_traces(WEB, {"chat.id": chat_id}, limit=200)
        by_kind: dict[str, list[dict]] = {kind: [] for kind in REQUESTS}
        for trace in sorted(traces, key=lambda t: -min(s["startTime"] for s in t["spans"])):
            kind = kind_of(trace)
            if kind and complete(trace, kind) and len(by_kind[kind]) < count:
                by_kind[kind].append(trace)
        return by_kind if all(len(v) == count for v in by_kind.values()) else None

    by_kind = testing.wait_until(found, timeout, "whole traces in Jaeger", interval=1)
    summary = {}
    for kind, traces in by_kind.items():
        per_trace = [len(t["spans"]) for t in traces]
        services: Counter[str] = Counter()
        operations: Counter[str] = Counter()
        for trace in traces:
            for span in trace["spans"]:
                service = trace["processes"][span["processID"]]["serviceName"]
                services[service] += 1
                operations[f"{service}: {span['operationName']}"] += 1
        summary[kind] = {
            "traces": len(traces),
            "spans_per_trace": statistics.fmean(per_trace),
            "spans_min": min(per_trace),
            "spans_max": max(per_trace),
            "by_service": {k: v / len(traces) for k, v in services.most_common()},
            "by_operation": {k: v / len(traces) for k, v in sorted(operations.items())},
        }
    return summary


def traces_stored(jaeger: Any, chat_id: int, expected: int | None = None) -> int:
    """How many traces Jaeger holds for the chat: the sampled requests. Spans leave each
    process in batches (every 5 s, the SDK's default): wait for `expected` traces, or else
    until the count has held still for longer than a batch's delay."""
    import testing

    counts: list[tuple[float, int]] = []

    def settled() -> tuple[int] | None:
        count = len(jaeger.find_traces(WEB, {"chat.id": chat_id}, limit=jaeger.max_traces))
        now = time.monotonic()
        counts.append((now, count))
        if expected is not None:
            return (count,) if count >= expected else None
        held = [t for t, c in counts if c == count]
        return (count,) if now - min(held) > BATCH_DELAY + 1 else None

    try:
        (count,) = testing.wait_until(settled, 60, "traces in Jaeger", interval=1)  # type: ignore[misc]
    except TimeoutError:
        count = counts[-1][1]
    return count


# --- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, database_url: str, stack: Any) -> dict:
    import testing
    from testing.services import JaegerProcess

    services = Services(database_url, workdir, stack)
    from chatplatform.celery import app as celery_app
    from chats.models import Notification

    names = ["off", "on"] + ([] if args.no_every else ["every"])
    per_target = args.warmup + args.rounds * args.requests
    data = {}
    for name in names:
        owner, chat = chat_with_two_admins(f"tracing-{name}", emails=True)
        data[name] = (owner, chat, newcomers(f"{name}-new", per_target))
    # The emails about the admins' own joins: not part of what is measured.
    Notification.objects.all().delete()
    celery_app.control.purge()

    # Enough room that no trace of the run is pushed out before it is read back.
    jaeger = stack.enter_context(JaegerProcess(max_traces=100_000))
    traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint}
    env = {"off": {}, "on": traced, "every": {**traced, **EVERY}}
    stack.enter_context(
        testing.WorkerProcess({**services.web_env, **traced}, group="email", name="tracing-email")
    )
    targets = []
    for name in names:
        owner, chat, users = data[name]
        web = services.web(f"web-{name}", stack, **env[name])
        targets.append(Target(name, web, chat, owner, users))
    print(
        f"tracing cost: {', '.join(names)}; {args.rounds} rounds x {args.requests} requests of "
        f"each kind a configuration (+{args.warmup} warm-up); Jaeger {jaeger.query_url}"
    )
    started = time.monotonic()
    jaeger_cpu = cpu_seconds(jaeger.proc.pid)
    measured = measure(args, targets)
    seconds = time.monotonic() - started
    jaeger_cpu = cpu_seconds(jaeger.proc.pid) - jaeger_cpu
    measured_requests = args.rounds * args.requests * len(REQUESTS)
    web_cpu = {
        name: {
            "cpu_s": total,
            "cpu_ms_per_request": 1000 * total / measured_requests,
        }
        for name, total in measured["cpu_total_s"].items()
    }
    for row in web_cpu.values():
        row["ratio_to_off"] = ratio(row["cpu_s"], web_cpu["off"]["cpu_s"])
    table = latency_table(measured, names)

    adds = sum(t.added for t in targets)
    testing.wait_until(
        lambda: services.smtp.inbox.count() >= 2 * adds, 120, f"{2 * adds} admin emails", 0.2
    )
    time.sleep(0.5)  # a duplicate would arrive now
    emails = inbox_tally(services.smtp.inbox)
    emails["expected"] = 2 * adds

    # What a traced request records, read from the configuration that traces every request.
    every_chat = data["every" if "every" in names else "on"][1].pk
    recorded = spans_recorded(jaeger, every_chat, args.traces)
    sampled = {}
    for target in targets[1:]:
        requests_made = target.sent + target.added
        expected = requests_made if target.name == "every" else None
        stored = traces_stored(jaeger, target.chat.pk, expected)
        sampled[target.name] = {"traces": stored, "requests": requests_made}
    return {
        "code": code_version(),
        "rounds": args.rounds,
        "requests_per_round": args.requests,
        "warmup": args.warmup,
        "measure_seconds": seconds,
        "configs": {
            "off": "no OTEL_* variable",
            "on": "OTEL_EXPORTER_OTLP_ENDPOINT only (DEFAULT_SAMPLER, default batch delay)",
            **({"every": "on + parentbased_always_on"} if "every" in names else {}),
        },
        "default_sampler": default_sampler(),
        "requests": REQUESTS,
        "latency": table,
        "web_cpu": web_cpu,
        "jaeger_cpu_s": jaeger_cpu,
        "goal": {
            "ratio_p50_max": GOAL_P50,
            **{
                kind: {
                    "ratio_p50": table[kind]["on"]["ratio_p50"],
                    "met": table[kind]["on"]["ratio_p50"] <= GOAL_P50,
                }
                for kind in REQUESTS
            },
        },
        "spans": recorded,
        "sampled": sampled,
        "emails": emails,
        "machine": {"cores": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
    }


def default_sampler() -> str:
    from observability.tracing import DEFAULT_SAMPLER, DEFAULT_SAMPLER_ARG

    return f"{DEFAULT_SAMPLER} {DEFAULT_SAMPLER_ARG}, every delivery"


def code_version() -> str:
    """The commit measured (git describe; "-dirty": the shared tree had changes besides)."""
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


# --- output -----------------------------------------------------------------------------------


def report(results: dict) -> None:
    names = list(results["configs"])
    print(
        f"\nrequest latency, ms ({results['rounds']} rounds x {results['requests_per_round']} "
        f"requests a configuration; code {results['code']}; default sampler "
        f"{results['default_sampler']})"
    )
    head = f"{'request':8} {'config':6} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7} {'cpu':>6}"
    print(
        f"{head} {'rounds p50':>14} {'/off p50':>9} {'p90':>6} {'p99':>6} {'rounds':>7} {'cpu':>6}"
    )
    for kind, rows in results["latency"].items():
        for name in names:
            row = rows[name]
            text = (
                f"{kind:8} {name:6} {row['p50_ms']:7.2f} {row['p90_ms']:7.2f} "
                f"{row['p99_ms']:7.2f} {row['mean_ms']:7.2f} {row['cpu_ms']:6.2f} "
                f"{row['round_p50_min_ms']:6.2f}-{row['round_p50_max_ms']:<7.2f}"
            )
            if "ratio_p50" in row:
                text += (
                    f" {row['ratio_p50']:9.3f} {row['ratio_p90']:6.3f} {row['ratio_p99']:6.3f}"
                    f" {row['ratio_p50_of_rounds']:7.3f} {row['ratio_cpu']:6.3f}"
                )
            print(text)
    print(
        "(cpu: the web process's CPU ms a request during the batches; rounds: the range of the "
        "rounds' p50s and the median of the rounds' ratios)"
    )
    print(
        "web process CPU over the whole phase, ms a request: "
        + ", ".join(
            f"{name} {row['cpu_ms_per_request']:.2f} (x{row['ratio_to_off']:.3f})"
            for name, row in results["web_cpu"].items()
        )
        + f"; Jaeger used {results['jaeger_cpu_s']:.1f} CPU s meanwhile"
    )
    goal = results["goal"]
    for kind in REQUESTS:
        verdict = "MET" if goal[kind]["met"] else "NOT MET"
        print(
            f"goal (issue 27): tracing on / off at p50 <= {goal['ratio_p50_max']:g}: {kind} "
            f"{goal[kind]['ratio_p50']:.3f}: {verdict}"
        )
    for kind, spans in results["spans"].items():
        print(
            f"\na traced {kind} request: {spans['spans_per_trace']:.1f} spans a trace "
            f"({spans['spans_min']}-{spans['spans_max']}, {spans['traces']} traces read back); "
            + ", ".join(f"{k} {v:g}" for k, v in spans["by_service"].items())
        )
        for operation, n in spans["by_operation"].items():
            print(f"  {n:5.1f}  {operation}")
    for name, row in results["sampled"].items():
        print(f"{name}: {row['traces']} traces stored for {row['requests']} requests")
    emails = results["emails"]
    print(
        f"admin emails: {emails['received']} received of {emails['expected']}, "
        f"{emails['duplicate_message_ids']} duplicate Message-IDs"
    )


if __name__ == "__main__":
    main()
