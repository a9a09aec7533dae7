"""Chat titles in the notebooks' Markdown and HTML: shown as typed, never markup, a link, HTML
or TeX, with every title of the hostile corpus; and the HTML page is sanitised even for text
that reached it unescaped."""

from __future__ import annotations

import nbformat
import pytest
from nbconvert.filters.markdown import markdown2html

from notebooks.analysis import activity, formatting
from notebooks.render import exporter
from testing.hostile import ACCEPTED

from .support import Page

# Beyond the corpus: TeX the notebooks' Markdown (nbconvert's math) or MathJax would typeset.
TITLES = {
    **ACCEPTED,
    "tex_unknown": r"$\foo$",
    "tex_display": r"$$x^2$$ and \[y\] and \(z\)",
    "tex_environment": r"\begin{equation}x\end{equation}",
}


@pytest.mark.parametrize("title", TITLES.values(), ids=list(TITLES))
def test_markdown_text_shows_a_title_as_typed(title: str) -> None:
    page = Page(markdown2html(f'The chat "{formatting.markdown_text(title)}" is busy.'))
    assert page.elements == [("p", {})]
    assert page.text.strip() == f'The chat "{title}" is busy.'


@pytest.mark.parametrize("title", TITLES.values(), ids=list(TITLES))
def test_the_activity_conclusion_quotes_the_busiest_title_as_typed(title: str) -> None:
    summary = {
        "messages": 7,
        "days": 2,
        "messages_per_day_mean": 3.5,
        "busiest_day": "2025-03-03",
        "busiest_day_messages": 5,
        "peak_hour_of_week": {"weekday": "Mon", "hour": 9, "messages": 4},
        "last_day": None,
        "stickiness_mean": 0.5,
        "top_chat": {"chat_id": 7, "title": title, "messages": 5},
        "users_new": 1,
        "users_at_end": 2,
        "chats_new": 1,
        "chats_at_end": 1,
    }
    page = Page(markdown2html(activity.conclusion(summary)))
    assert f'The busiest chat was "{title}" (5 messages).' in page.text
    assert {tag for tag, _ in page.elements} == {"p", "strong"}  # the conclusion's own bold


def test_the_html_page_is_sanitised_even_for_text_that_was_not_escaped() -> None:
    """A Markdown output and an HTML output carrying raw markup (a notebook that forgot to
    escape): the page shows the markup as text, and nothing in it runs."""
    raw = ACCEPTED["html_img"] + " " + ACCEPTED["html_script"] + " [x](javascript:alert(2))"
    cell = nbformat.v4.new_code_cell("display(...)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", {"text/markdown": f"**Busiest:** {raw}"}),
        nbformat.v4.new_output("display_data", {"text/html": f"<table><tr><td>{raw}</td></tr>"}),
    ]
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(f"# Heading\n\n{raw}"), cell]
    )
    body, _ = exporter().from_notebook_node(notebook)
    page = Page(body)

    assert page.event_handlers() == [] and page.tags("img") == []
    assert not [script for script in page.scripts if "alert" in script]
    for typed in (ACCEPTED["html_img"], ACCEPTED["html_script"]):  # text, in all three places
        assert page.text.count(typed) == 3
    assert not [a for a in page.tags("a") if (a.get("href") or "").startswith("javascript:")]
    # The page's own Markdown and tables survive the sanitiser.
    tags = {tag for tag, _ in page.elements}
    assert {"h1", "p", "strong", "table", "td"} <= tags
    assert "mathjax" not in body.lower().replace("mathjax_ignore", "")  # no TeX typesetting
