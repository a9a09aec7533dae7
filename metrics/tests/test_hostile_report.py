"""Chat titles are user input: with any title of the hostile corpus among the busiest chats,
a report run still writes every file, its charts draw the title as typed, its page shows it as
text, and its CSV holds no spreadsheet formula."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from chats.models import Chat, Message
from metrics import fill
from metrics.reports.charts import busiest_chats_figure, draw_charts
from metrics.reports.folders import load_table
from metrics.reports.index import render_index
from metrics.reports.make import make_report
from metrics.reports.usertext import FORMULA_PREFIXES, chat_label, csv_safe, literal_text
from testing.hostile import ACCEPTED

from .support import T0, User, at, hm

# DejaVu Sans, matplotlib's font, has no CJK, emoji or some combining marks: each missing glyph
# is a warning (test_a_glyph_the_font_lacks_only_warns), and a box in the chart.
pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
CHARTS = ["messages_per_hour.png", "active_users.png", "busiest_chats.png", "hour_of_week.png"]
NOW = at(48) + timedelta(minutes=7)
# Beyond the corpus: titles matplotlib reads as TeX (an even number of `$`), the ones that made
# `savefig` raise, and a TeX error of another kind.
TITLES = {
    **ACCEPTED,
    "tex_unknown": r"$\foo$",
    "tex_pair": r"price $x^2$ and $\frac{1}{$",
}


class Page(HTMLParser):
    """Every element (tag and attributes) of an HTML page, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def png_pixels(figure: Figure) -> np.ndarray:
    """The figure saved as the report saves it (charts._save), read back."""
    buffer = io.BytesIO()
    with literal_text():
        figure.tight_layout()
        figure.savefig(buffer, format="png", dpi=100)
    buffer.seek(0)
    return matplotlib.image.imread(buffer, format="png")


@pytest.fixture
def busiest_titled(db: None, request: pytest.FixtureRequest) -> Chat:
    """A chat titled with the hostile string, the busiest of the range (5 messages), beside a
    plain one (2)."""
    ann = User.objects.create(username="ann", date_joined=T0 - timedelta(days=2))
    hostile = Chat.objects.create(title=request.param, created_by=ann, created_at=hm(0, 10))
    plain = Chat.objects.create(title="Plain", created_by=ann, created_at=hm(0, 20))
    for chat, minutes in [(hostile, [15, 25, 35, 45, 55]), (plain, [30, 50])]:
        for minute in minutes:
            Message.objects.create(chat=chat, author=ann, text="hi", created_at=hm(25, minute))
    return hostile


@pytest.mark.parametrize("busiest_titled", TITLES.values(), ids=list(TITLES), indirect=True)
def test_a_report_with_a_hostile_title_among_the_busiest(
    busiest_titled: Chat, tmp_path: Path
) -> None:
    title, chat_id = busiest_titled.title, busiest_titled.pk
    fill.fill_activity_counts(until=NOW)
    report = make_report(now=NOW, reports_dir=tmp_path, days=3)  # did not raise

    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["charts"] == CHARTS and manifest["chart_failures"] == {}
    for chart in CHARTS:
        height, width, _ = matplotlib.image.imread(report / chart).shape
        assert width >= 600 and height >= 300

    # The chart labels the chat with its title as typed, and draws it: the same chart with the
    # title left out differs in its pixels.
    chat_hourly, chats = load_table(report, "chat_hourly"), load_table(report, "chats")
    with literal_text():
        figure = busiest_chats_figure(chat_hourly, chats)
        drawn = png_pixels(figure)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert labels[-1] == chat_label(title, chat_id)  # the top bar
    assert labels[-1].startswith(title[:30])
    assert np.array_equal(drawn, matplotlib.image.imread(report / "busiest_chats.png"))
    untitled = chats.assign(title=chats["title"].where(chats["chat_id"] != chat_id, ""))
    with literal_text():
        assert not np.array_equal(drawn, png_pixels(busiest_chats_figure(chat_hourly, untitled)))

    # index.html: the title is text in the busiest table, and makes no element.
    page = Page((report / "index.html").read_text())
    assert title in page.text
    assert [tag for tag, _ in page.elements if tag == "script"] == []
    images = [attrs.get("src") for tag, attrs in page.elements if tag == "img"]
    assert images == CHARTS
    assert not [name for _, attrs in page.elements for name in attrs if name.startswith("on")]

    # CSV: a cell that would start a formula begins with a quote; otherwise the title as typed.
    # Parquet: as typed, always.
    csv = pd.read_csv(report / "chats.csv", dtype=str, keep_default_na=False)
    cell = csv.loc[csv["chat_id"] == str(chat_id), "title"].item()
    assert cell == ("'" + title if title.startswith(FORMULA_PREFIXES) else title)
    assert chats.loc[chats["chat_id"] == chat_id, "title"].item() == title


def test_formula_cells_are_quoted_in_csv_only_what_would_start_one() -> None:
    table = pd.DataFrame(
        {
            "title": ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "a=1", " =1", "", None],
            "value": [-1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        }
    )
    safe = csv_safe(table)
    quoted = ["'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx"]
    assert safe["title"].tolist()[:8] == [*quoted, "a=1", " =1"]
    assert safe["title"].iloc[8] == "" and pd.isna(safe["title"].iloc[9])
    assert safe["value"].tolist() == table["value"].tolist()  # numbers are not text
    assert table["title"].iloc[0] == "=1+1"  # the table itself (Parquet's) is left as typed


def test_a_chart_that_fails_is_named_and_the_others_are_drawn(tmp_path: Path) -> None:
    """Whatever still breaks a chart breaks that chart only: a chat_hourly whose hours are not
    times makes the busiest chats chart fail; the other three are written."""
    hours = pd.date_range(T0, periods=48, freq="h", tz="UTC")
    hourly = pd.DataFrame(
        {"hour": hours, "stat": "messages_sent", "value": 1, "partial": hours >= at(47)}
    )
    daily = pd.DataFrame(
        {"day": [T0.date()], "stat": ["active_users_1d"], "value": [1], "partial": [False]}
    )
    chat_hourly = pd.DataFrame(
        {"hour": ["not a time"], "chat_id": [1], "messages": [3], "partial": [False]}
    )
    chats = pd.DataFrame({"chat_id": [1], "title": ["Alpha"]})
    tables = {"hourly": hourly, "daily": daily, "chat_hourly": chat_hourly, "chats": chats}

    drawn, failed = draw_charts(tables, at(48), tmp_path)

    assert drawn == ["messages_per_hour.png", "active_users.png", "hour_of_week.png"]
    assert list(failed) == ["busiest_chats.png"] and "not a time" in failed["busiest_chats.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(drawn)


def test_a_glyph_the_font_lacks_only_warns() -> None:
    chat_hourly = pd.DataFrame({"hour": [pd.Timestamp(T0)], "chat_id": [1], "messages": [3]})
    chats = pd.DataFrame({"chat_id": [1], "title": [ACCEPTED["cjk"]]})
    with pytest.warns(UserWarning, match="missing from font"):
        pixels = png_pixels(busiest_chats_figure(chat_hourly, chats))
    assert pixels.shape == (400, 800, 4)


def test_the_page_names_a_chart_that_could_not_be_drawn() -> None:
    empty = {
        "hourly": pd.DataFrame({"stat": [], "value": []}),
        "daily": pd.DataFrame({"stat": [], "value": [], "partial": []}),
        "chats": pd.DataFrame(
            {
                "created_at": pd.to_datetime([], utc=True),
                "title": [],
                "members": [],
                "messages_last_day": [],
                "messages_in_range": [],
            }
        ),
        "users": pd.DataFrame({"user_id": []}),
    }
    manifest = {
        "generated_at": "2026-12-07T00:00:00Z",
        "range": {"start": "2026-12-06T00:00:00Z", "end": "2026-12-07T00:00:00Z"},
        "before_range": {"chats": 0, "users": 0},
        "charts": ["active_users.png"],
        "chart_failures": {"busiest_chats.png": "ValueError: <b>bad</b>"},
        "tables": {},
    }

    page = render_index(manifest, empty)

    assert "busiest_chats.png could not be drawn" in page
    assert "ValueError: &lt;b&gt;bad&lt;/b&gt;" in page  # the error as text
