"""The runbooks page: docs/runbooks.md rendered for staff at /runbooks/ (routed in
chatplatform/urls.py; staff only through Django's staff_member_required, as /live/).

Every alert's `runbook_url` annotation is `/runbooks/#<anchor>`, an id the toc extension gives a
heading of docs/runbooks.md; the alert emails make it absolute with PUBLIC_BASE_URL. The same
document stays readable on GitHub, and tests check every alert's anchor against `heading_ids`.
"""

from __future__ import annotations

from pathlib import Path

import markdown
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

RUNBOOKS = Path(__file__).resolve().parent.parent / "docs" / "runbooks.md"


def render_runbooks(path: Path = RUNBOOKS) -> tuple[str, list[str]]:
    """The document as HTML, and the ids of its headings (the anchors alerts may link)."""
    md = markdown.Markdown(extensions=["toc", "fenced_code", "tables"])
    html = md.convert(path.read_text())

    def ids(tokens: list[dict]) -> list[str]:
        return [i for token in tokens for i in (token["id"], *ids(token["children"]))]

    return html, ids(md.toc_tokens)


@staff_member_required
def runbooks_page(request: HttpRequest) -> HttpResponse:
    """The runbooks, for staff; others go to the admin login, as on /live/."""
    # The document is the repository's own (not user input): its HTML is trusted.
    html, _ = render_runbooks()
    return render(request, "runbooks/page.html", {"content": mark_safe(html)})  # noqa: S308
