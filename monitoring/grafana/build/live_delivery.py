"""Live delivery: does the live layer deliver, and how fast does the web API answer?

Clients, publications and server API latency come from Centrifugo's own metrics; the live events
pending and finished (sent or failed, counted as they finish) and the web API's latency from the
web app's /metrics.
"""

from __future__ import annotations

from monitoring.grafana.build.panels import (
    Dashboard,
    Row,
    graph,
    new_dashboard,
    p50_p95,
    quantile,
    rate,
    single,
    sum_by,
)


def dashboard() -> Dashboard:
    """Does the live layer deliver? Centrifugo clients and publications, and API latency."""
    latency = rate("chatplatform_http_request_duration_seconds_bucket")
    return (
        new_dashboard(
            "Live delivery",
            "chatplatform-live-delivery",
            "Centrifugo's own metrics (connections, publications) and the web API's latency.",
        )
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
                width=24,
            )
        )
        .with_row(Row("Web API"))
        .with_panel(
            graph(
                "API latency p50 / p95",
                p50_p95("", latency),
                "s",
                "Time the web app takes to answer, all views together.",
            )
        )
        .with_panel(
            graph(
                "API p95 latency by view",
                [(quantile(0.95, "view", latency), "{{view}}")],
                "s",
                "Slowest routes first; the view label is the URL route name, never a raw path.",
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
