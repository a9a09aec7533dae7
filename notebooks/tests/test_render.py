"""End to end: known activity in the database -> the real fill and report job -> every notebook
executed by papermill -> the figures the notebooks print equal the ones worked out by hand.

Timeline (T0 = Monday 2025-03-03 00:00 UTC; the report covers [03-03, 03-18), 15 days):

    users   old (joined 02-01), ann 03-03 09:00, ben 03-04 10:00, cat 03-05 08:00,
            dan 03-11 12:00, eve 03-12 12:00 (never writes)
    chats   Alpha (ann) 03-03 09:05, Beta (ben) 03-04 10:05, Delta (cat) 03-05 08:25,
            Gamma (dan) 03-11 12:05
    emails  6 in the range: 4 sent (2 s, 30 s, 1 s, 5 s), 1 failed, 1 pending; 1 before it
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from chats.models import Chat, Message, Notification
from metrics import fill
from metrics.reports.make import make_report
from notebooks import render as render_module
from notebooks.render import RenderError, notebook_paths, render, render_latest

User = get_user_model()
NOW = datetime(2025, 3, 18, 0, 7, tzinfo=UTC)  # Tuesday, just after the 03-17 day completes


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_known_activity() -> None:
    users = {
        name: User.objects.create(username=name, date_joined=t(joined))
        for name, joined in [
            ("old", "2025-02-01 00:00"),
            ("ann", "2025-03-03 09:00"),
            ("ben", "2025-03-04 10:00"),
            ("cat", "2025-03-05 08:00"),
            ("dan", "2025-03-11 12:00"),
            ("eve", "2025-03-12 12:00"),
        ]
    }
    chats = {
        title: Chat.objects.create(title=title, created_by=users[owner], created_at=t(created))
        for title, owner, created in [
            ("Alpha", "ann", "2025-03-03 09:05"),
            ("Beta", "ben", "2025-03-04 10:05"),
            ("Delta", "cat", "2025-03-05 08:25"),
            ("Gamma", "dan", "2025-03-11 12:05"),
        ]
    }
    for title, author, moment in [
        ("Alpha", "ann", "2025-03-03 09:10"),
        ("Alpha", "old", "2025-03-03 09:40"),  # Alpha's first reply: 30 min
        ("Alpha", "ann", "2025-03-03 09:50"),
        ("Alpha", "ann", "2025-03-04 09:15"),
        ("Beta", "ben", "2025-03-04 10:10"),
        ("Beta", "ann", "2025-03-04 12:10"),  # Beta's first reply: 120 min
        ("Beta", "ben", "2025-03-04 12:30"),
        ("Delta", "cat", "2025-03-05 08:30"),  # never answered
        ("Alpha", "ann", "2025-03-10 09:05"),
        ("Alpha", "ben", "2025-03-10 09:20"),
        ("Gamma", "dan", "2025-03-11 12:10"),
        ("Gamma", "ann", "2025-03-11 12:20"),  # Gamma's first reply: 10 min
        ("Gamma", "dan", "2025-03-13 18:00"),
        ("Alpha", "dan", "2025-03-17 09:00"),
    ]:
        Message.objects.create(
            chat=chats[title], author=users[author], text="hi", created_at=t(moment)
        )
    for event, status, attempts, created, done in [
        ("member_added", "sent", 1, "2025-03-04 10:06:00", "2025-03-04 10:06:02"),
        ("member_added", "sent", 3, "2025-03-04 10:20:00", "2025-03-04 10:20:30"),
        ("member_removed", "failed", 6, "2025-03-04 10:40:00", "2025-03-04 10:50:00"),
        ("member_added", "sent", 1, "2025-03-11 12:06:00", "2025-03-11 12:06:01"),
        ("chat_deleted", "sent", 1, "2025-03-11 12:30:00", "2025-03-11 12:30:05"),
        ("member_added", "pending", 0, "2025-03-17 23:00:00", None),
        ("member_added", "failed", 6, "2025-03-01 10:00:00", "2025-03-01 10:30:00"),
    ]:
        Notification.objects.create(
            event=event,
            chat_id=chats["Alpha"].pk,
            recipient_id=users["ann"].pk,
            recipient_email="ann@example.com",
            subject="s",
            body_text="b",
            body_html="<p>b</p>",
            status=status,
            attempts=attempts,
            last_error="550 refused" if status == "failed" else "",
            created_at=t(created),
            updated_at=t(created),
            done_at=t(done) if done else None,
        )


def summaries(folder: Path) -> dict[str, dict]:
    """The JSON that each executed notebook's last cell (tagged `summary`) printed."""
    found = {}
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[-1]
        assert "summary" in cell.metadata.get("tags", [])
        text = "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream")
        found[path.stem] = json.loads(text)
    return found


def inline_charts(path: Path) -> int:
    """PNG outputs of an executed notebook: the figures plt.show() drew inline."""
    nb = nbformat.read(path, as_version=4)
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    return sum("image/png" in o.get("data", {}) for o in outputs)


def header(path: Path) -> str:
    """The markdown the setup cell (report, range analysed, partial period) displayed."""
    nb = nbformat.read(path, as_version=4)
    setup = next(cell for cell in nb.cells if "reading.analysis_range(" in cell.source)
    return "".join(
        o["data"]["text/markdown"] for o in setup.outputs if "text/markdown" in o.get("data", {})
    )


def conclusion(path: Path) -> str:
    """The markdown the conclusion cell (the one before the summary) displayed."""
    nb = nbformat.read(path, as_version=4)
    outputs = nb.cells[-2].outputs
    return "".join(o["data"]["text/markdown"] for o in outputs if "text/markdown" in o["data"])


@pytest.mark.slow
@pytest.mark.django_db
def test_notebooks_on_a_report_of_known_activity(tmp_path: Path) -> None:
    make_known_activity()
    fill.fill_activity_counts(until=NOW)
    report = make_report(now=NOW, reports_dir=tmp_path, days=15)

    call_command("render_notebooks", report_dir=str(report))  # what `make notebooks` runs

    out = report / "notebooks"
    names = {p.stem for p in notebook_paths()}
    assert {p.name for p in out.iterdir()} == {
        f"{n}.{ext}" for n in names for ext in ("ipynb", "html")
    }
    got = summaries(out)
    # Every chart shows inline: the kernel's backend, which nothing (report reader included) sets.
    charts = {name: inline_charts(out / f"{name}.ipynb") for name in names}
    assert charts == {"activity": 5, "engagement": 2, "task_health": 2}

    # 03-18 00:00-00:07 is the day in progress: partial in the report, left out by default.
    for name in names:
        assert "Counts from 2025-03-18 00:00 to 2025-03-18 00:07 UTC are **partial**" in header(
            out / f"{name}.ipynb"
        )
        assert "left out here" in header(out / f"{name}.ipynb")
    activity = got["activity"]
    assert (activity["start"], activity["end"]) == (
        "2025-03-03T00:00:00+00:00",
        "2025-03-18T00:00:00+00:00",
    )
    assert activity["days"] == 15 and activity["messages"] == 14
    assert activity["messages_per_day_mean"] == round(14 / 15, 2)
    assert (activity["busiest_day"], activity["busiest_day_messages"]) == ("2025-03-04", 4)
    # Monday 09h: three messages on 03-03, two on 03-10, one on 03-17.
    assert activity["peak_hour_of_week"] == {"weekday": "Mon", "hour": 9, "messages": 6}
    # 03-17: dan alone that day; ann and dan in the 7 days; everyone but eve in 30 days.
    assert activity["last_day"] == "2025-03-17"
    assert (activity["dau_last_day"], activity["wau_last_day"], activity["mau_last_day"]) == (
        1,
        2,
        5,
    )
    assert activity["stickiness_last_day"] == 0.2
    # DAU/MAU per day, 03-03 .. 03-17 (MAU: 2, 3, then 4, then 5 from dan's 03-11).
    per_day = [1, 2 / 3, 1 / 4, 0, 0, 0, 0, 2 / 4, 2 / 5, 0, 1 / 5, 0, 0, 0, 1 / 5]
    assert activity["stickiness_mean"] == pytest.approx(sum(per_day) / 15, abs=1e-6)
    assert activity["top_chat"]["title"] == "Alpha" and activity["top_chat"]["messages"] == 7
    assert (activity["users_at_end"], activity["users_new"]) == (6, 5)
    assert (activity["chats_at_end"], activity["chats_new"]) == (4, 4)
    text = conclusion(out / "activity.ipynb")
    assert "**14 messages** in 15 days" in text and "Mon at 09:00 UTC" in text

    engagement = got["engagement"]
    # Cohort 03-03 (ann, ben, cat): all wrote in week 0, ann and ben in week 1, none on 03-17.
    assert engagement["cohorts"]["2025-03-03"] == {
        "users": 3,
        "retention": [1.0, round(2 / 3, 6), 0.0] + [None] * 6,
    }
    # Cohort 03-10 (dan, eve): dan wrote in weeks 0 and 1, eve never.
    assert engagement["cohorts"]["2025-03-10"] == {
        "users": 2,
        "retention": [0.5, 0.5] + [None] * 7,
    }
    assert engagement["new_users"] == 5
    assert engagement["week1_retention"] == pytest.approx((2 + 1) / 5)
    # Waits 30, 120, 10 min; Delta unanswered. p90 of [10, 30, 120] = 30 + 0.8 * 90.
    assert engagement["first_reply"] == {
        "chats": 4,
        "replied": 3,
        "unreplied": 1,
        "median_minutes": 30.0,
        "p90_minutes": 102.0,
    }
    assert "median **30.0 min**, p90 **102.0 min**" in conclusion(out / "engagement.ipynb")

    health = got["task_health"]
    assert {k: health[k] for k in ("emails", "sent", "failed", "waiting", "retried")} == {
        "emails": 6,
        "sent": 4,
        "failed": 1,
        "waiting": 1,
        "retried": 2,
    }
    assert health["failure_rate"] == 0.2
    # Latencies 1, 2, 5, 30 s: median 3.5; p90 = 5 + 0.7 * 25.
    assert (health["latency_median_s"], health["latency_p90_s"], health["latency_max_s"]) == (
        3.5,
        22.5,
        30.0,
    )
    assert health["worst_hours"][0] == {
        "hour": "2025-03-04T10:00:00+00:00",
        "emails": 3,
        "failed": 1,
        "failure_rate": round(1 / 3, 6),
        "latency_p90_s": 27.2,  # [2, 30]: 2 + 0.9 * 28
    }
    assert health["by_event"]["member_removed"]["failure_rate"] == 1.0
    assert "failure rate **20.0%**" in conclusion(out / "task_health.ipynb")

    # What an analyst opens: HTML with the charts inline and the conclusion in it.
    page = (out / "activity.html").read_text()
    assert page.count("data:image/png;base64,") >= 5
    assert "**14 messages**" not in page and "<strong>14 messages</strong>" in page
    assert "Traceback" not in page


@pytest.mark.slow
@pytest.mark.django_db
def test_render_latest_on_a_fresh_report_with_no_activity(tmp_path: Path, settings) -> None:
    """A brand-new platform: empty tables; every notebook still runs and says so."""
    settings.REPORTS_DIR = tmp_path
    report = make_report(now=NOW, reports_dir=tmp_path, days=3)
    paths = render_latest()
    assert [p.name for p in paths] == ["activity.html", "engagement.html", "task_health.html"]
    assert all(p.parent == report / "notebooks" for p in paths)
    got = summaries(report / "notebooks")
    assert got["activity"]["messages"] == 0 and got["activity"]["top_chat"] is None
    assert got["engagement"]["new_users"] == 0 and got["engagement"]["first_reply"]["chats"] == 0
    assert got["task_health"]["emails"] == 0
    assert "No messages were sent in the 3 days" in conclusion(report / "notebooks/activity.ipynb")
    # The newest renders also stand at REPORTS_DIR/notebooks, which outlives newer reports.
    published = tmp_path / "notebooks"
    assert (published / "REPORT").read_text().strip() == report.name
    assert (published / "activity.html").read_bytes() == (paths[0]).read_bytes()
    newer = make_report(now=NOW + timedelta(hours=1), reports_dir=tmp_path, days=3)
    assert not (newer / "notebooks").exists() and (published / "activity.html").exists()


@pytest.mark.slow
def test_a_failing_notebook_is_still_rendered_and_reported(tmp_path: Path, monkeypatch) -> None:
    """One broken notebook: its HTML shows the error, the others render, the caller hears of it."""
    report = tmp_path / "20250318T000700Z"
    report.mkdir()
    (report / "manifest.json").write_text("{}")
    sources = tmp_path / "nbs"
    sources.mkdir()
    for name, body in [("good", "print('fine')"), ("bad", "raise ValueError('boom in cell')")]:
        params = nbformat.v4.new_code_cell('report_dir = ""\nstart = ""\nend = ""')
        params.metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(body)])
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, sources / f"{name}.ipynb")
    monkeypatch.setattr(render_module, "NOTEBOOKS_DIR", sources)
    with pytest.raises(RenderError, match=r"(?s)bad: PapermillExecutionError.*boom in cell"):
        render(report)
    assert "boom in cell" in (report / "notebooks/bad.html").read_text()
    assert "fine" in (report / "notebooks/good.html").read_text()


def test_the_python3_kernel_is_this_interpreter() -> None:
    """Papermill's kernel must be the venv's Python (pandas, the project), not a system one."""
    render_module.check_kernel()  # raises RenderError naming the other interpreter
