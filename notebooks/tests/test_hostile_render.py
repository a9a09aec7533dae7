"""End to end with hostile chat titles: chats titled with every string of the corpus are the
busiest of a real report; every notebook renders, and the Activity page shows each title as
text: no element, attribute or script of the page comes from one, no chart failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from chats.models import Chat, Message
from metrics import fill
from metrics.reports.make import make_report
from notebooks.render import render
from testing.hostile import ACCEPTED

from .support import Page
from .test_render import inline_charts, summaries

# DejaVu Sans has no CJK or emoji: a warning per missing glyph (metrics' test_hostile_report).
pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
User = get_user_model()
NOW = datetime(2025, 3, 18, 0, 7, tzinfo=UTC)
TITLES = {**ACCEPTED, "tex_unknown": r"$\foo$", "tex_pair": r"price $x^2$ and $\frac{1}{$"}
# The notebook lists the ten busiest chats: two reports of ten, each led by a title that would
# be live HTML or TeX in the conclusion if it were not escaped.
OTHERS = [name for name in TITLES if name not in ("html_img", "tex_unknown")]
BATCHES = {"html_img": OTHERS[:9], "tex_unknown": OTHERS[9:]}
# The one script nbconvert's page loads (MathJax is left out: notebooks/templates/).
REQUIRE_JS = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"
PANDAS_CELL = 45  # pandas shows at most 50 characters of a cell (display.max_colwidth)


def make_busy_chats(titles: list[str]) -> None:
    """One chat per title, the first the busiest (11 messages), each next one a message less."""
    ann = User.objects.create(username="ann", date_joined=datetime(2025, 3, 1, tzinfo=UTC))
    start = datetime(2025, 3, 10, 9, tzinfo=UTC)
    for rank, title in enumerate(titles):
        chat = Chat.objects.create(title=title, created_by=ann, created_at=start)
        for n in range(len(titles) + 1 - rank):
            Message.objects.create(
                chat=chat, author=ann, text="hi", created_at=start + timedelta(minutes=n + 1)
            )


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("busiest", list(BATCHES))
def test_notebooks_render_hostile_titles_as_text(busiest: str, tmp_path: Path) -> None:
    titles = [TITLES[name] for name in [busiest, *BATCHES[busiest]]]
    assert len(titles) == 10 and len(OTHERS) == 18  # every title is in one of the two
    make_busy_chats(titles)
    fill.fill_activity_counts(until=NOW)
    report = make_report(now=NOW, reports_dir=tmp_path, days=15)
    assert json.loads((report / "manifest.json").read_text())["chart_failures"] == {}

    render(report)  # raises RenderError if any notebook failed

    out = report / "notebooks"
    assert summaries(out)["activity"]["top_chat"]["title"] == titles[0]
    assert inline_charts(out / "activity.ipynb") == 5  # the busiest chats chart among them

    html = (out / "activity.html").read_text()
    page = Page(html)
    assert f'The busiest chat was "{titles[0]}" ({len(titles) + 1} messages).' in page.text
    for title in titles:  # the busiest chats table: each title as text
        assert title[:PANDAS_CELL] in page.text
    assert page.event_handlers() == []
    images = [attrs.get("src") or "" for attrs in page.tags("img")]
    assert len(images) == 5 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not [script for script in page.scripts if "alert" in script]
    assert [a for a in page.tags("script") if a.get("src")] == [{"src": REQUIRE_JS}]
    links = [attrs.get("href") or "" for attrs in page.tags("a")]
    assert not [href for href in links if href.startswith("javascript:")]
    assert "Traceback" not in page.text
