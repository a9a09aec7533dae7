"""Live delivery: does the live layer deliver, and how fast does the web API answer?

Clients, publications and server API latency come from Centrifugo's own metrics; the live events
pending and finished (sent or failed, counted as they finish) and the web API's latency from the
web app's /metrics.
"""

from __future__ import annotations

from monitoring.grafana.build.panels import (
    Dashboard,
    Row,
    app_url_variable,
    graph,
    new_dashboard,
    p50_p95,
    quantile,
    rate,
    single,
    sum_by,
    with_trace_links,
)

WEB = "chatplatform-web"  # the web process' service name in Jaeger
# Browser-measured lag: the chat pages' reports (observability), over a fixed 5 minutes: reports
# come in sampled batches, sparser than scrapes.
BROWSER_LAG = "rate(chatplatform_live_browser_lag_seconds_bucket[5m])"


def dashboard() -> Dashboard:
    """Does the live layer deliver? Centrifugo clients and publications, and API latency."""
    latency = rate("chatplatform_http_request_duration_seconds_bucket")
    return (
        new_dashboard(
            "Live delivery",
            "chatplatform-live-delivery",
            "Centrifugo's own metrics (connections, publications), the live lag browsers "
            "measure, and the web API's latency. Latency panels link to their slowest traces.",
        )
        .with_variable(app_url_variable())
        .with_row(Row("Centrifugo"))
        .with_panel(
            single(
                "Centrifugo nodes up",
                ('sum(up{job="centrifugo"})', "nodes"),
                "none",
                "Nodes Prometheus can scrape (two with compose's scale profile). CentrifugoDown"
                " fires at 0, CentrifugoNodeDown for each node down.",
                red_below=1,
            )
        )
        .with_panel(
            single(
                "Connected clients",
                ("sum(centrifugo_node_num_clients)", "clients"),
                "none",
                "WebSocket connections to Centrifugo now.",
            )
        )
        .with_panel(
            single(
                "Live events pending",
                ('sum(chatplatform_publications{status="pending"})', "pending"),
                "none",
                "Live events in the outbox not yet published to Centrifugo.",
                red_above=100,
            )
        )
        .with_panel(
            single(
                "Subscriptions",
                ("sum(centrifugo_node_num_subscriptions)", "subscriptions"),
                "none",
                "Channel subscriptions of all connected clients.",
            )
        )
        .with_panel(
            graph(
                "Clients and users",
                [
                    ("sum(centrifugo_node_num_clients)", "connections"),
                    ("sum(centrifugo_node_num_users)", "distinct users"),
                ],
                "none",
                "Open WebSocket connections and the users behind them.",
            )
        )
        .with_panel(
            graph(
                "Publications",
                [
                    (
                        sum_by("", rate('centrifugo_node_messages_sent_count{type="publication"}')),
                        "published",
                    ),
                    (
                        sum_by("method", rate("centrifugo_api_command_duration_seconds_count")),
                        "API {{method}}",
                    ),
                    (
                        # Every web replica serves the same snapshot: one of them (max).
                        f"max by (status) ({rate('chatplatform_publications_done_total')})",
                        "outbox {{status}}",
                    ),
                ],
                "ops",
                "Publications per second Centrifugo handles, server API calls by method, and the "
                "app's live events finished per second (sent, or failed: LiveEventsFailing).",
            )
        )
        .with_panel(
            graph(
                "Centrifugo API latency p95",
                [
                    (
                        quantile(
                            0.95,
                            "method",
                            rate("centrifugo_api_command_duration_seconds_histogram_bucket"),
                        ),
                        "{{method}}",
                    )
                ],
                "s",
                "Time Centrifugo takes to answer the server API (publish, presence) by method.",
            )
        )
        .with_panel(
            graph(
                "Browser-measured live lag",
                p50_p95("", BROWSER_LAG),
                "s",
                "From the server's publish call to the message's arrival in a chat page, as the "
                "browsers measure it (clock offset corrected) and report it in sampled batches. "
                "LiveBrowserLagHigh fires on its p95.",
            )
        )
        .with_row(Row("Web API"))
        .with_panel(
            with_trace_links(
                graph(
                    "API latency p50 / p95",
                    p50_p95("", latency),
                    "s",
                    "Time the web app takes to answer, all views together. Click a point for the "
                    "slowest traces around it.",
                ),
                WEB,
            )
        )
        .with_panel(
            with_trace_links(
                graph(
                    "API p95 latency by view",
                    [(quantile(0.95, "view", latency), "{{view}}")],
                    "s",
                    "Slowest routes first; the view label is the URL route name, never a raw "
                    "path. Click a point for the slowest traces around it.",
                ),
                WEB,
            )
        )
        .with_panel(
            graph(
                "Requests by status",
                [
                    (
                        sum_by("status", rate("chatplatform_http_request_duration_seconds_count")),
                        "{{status}}",
                    )
                ],
                "reqps",
                "Requests per second by HTTP status code.",
                width=24,
            )
        )
    )
