"""Chat activity: what the users do, and whether those numbers are fresh.

Every number comes from the statistics beat jobs, which the web app serves on its /metrics.
"""

from __future__ import annotations

from monitoring.grafana.build.panels import Dashboard, Row, bars, graph, new_dashboard, single


def dashboard() -> Dashboard:
    """What the users do: messages, active and new users, busiest chats; and data freshness."""
    return (
        new_dashboard(
            "Chat activity",
            "chatplatform-chat-activity",
            "Business numbers from the statistics beat job, served by the web app's /metrics.",
        )
        .with_row(Row("Totals"))
        .with_panel(single("Users", ("chatplatform_users", "users"), "none", "Registered users."))
        .with_panel(single("Chats", ("chatplatform_chats", "chats"), "none", "Chats that exist."))
        .with_panel(
            single(
                "Messages",
                ("chatplatform_messages_total", "messages"),
                "none",
                "Messages ever posted.",
            )
        )
        .with_panel(
            single(
                "Statistics age",
                ("chatplatform_snapshot_age_seconds", "age"),
                "s",
                "Seconds since the statistics snapshot was computed; grows when beat stops.",
                red_above=900,
            )
        )
        .with_row(Row("Activity"))
        .with_panel(
            graph(
                "Messages per hour",
                [("chatplatform_messages_last_hour", "messages in the last hour")],
                "none",
                "Messages posted in the hour before each statistics run.",
            )
        )
        .with_panel(
            graph(
                "Active users",
                [("chatplatform_active_users", "{{window}}")],
                "none",
                "Distinct users who posted in the last 1, 7 and 30 days.",
            )
        )
        .with_panel(
            graph(
                "New users per day",
                [("chatplatform_new_users_last_day", "joined in the last 24 h")],
                "none",
                "Users who registered in the 24 hours before each statistics run.",
            )
        )
        .with_panel(
            bars(
                "Busiest chats (last day)",
                [("chatplatform_top_chat_messages_last_day", "#{{rank}}")],
                "none",
                "Messages in the five busiest chats of the last day, by rank (titles: /live/).",
            )
        )
        .with_row(Row("Statistics jobs"))
        .with_panel(
            graph(
                "Time since last success",
                [
                    (
                        "time() - chatplatform_stats_job_last_success_timestamp_seconds",
                        "{{stats_job}}",
                    )
                ],
                "s",
                "Per beat job. StatisticsJobStale fires after 15 minutes; for the retention job "
                "(prune, every 10 minutes) RetentionJobStale after 30.",
            )
        )
        .with_panel(
            graph(
                "Job duration",
                [("chatplatform_stats_job_duration_seconds", "{{stats_job}}")],
                "s",
                "How long the last run of each statistics job took; grows with new data only.",
            )
        )
    )
