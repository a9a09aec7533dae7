"""The runbooks page: monitoring/runbooks.md rendered for staff at /runbooks/ (routed in
chatplatform/urls.py; staff only through Django's staff_member_required, as /live/).

Every alert's `runbook_url` annotation is `/runbooks/#<anchor>`, an id the toc extension gives a
heading of monitoring/runbooks.md; the alert emails make it absolute with PUBLIC_BASE_URL. The same
document stays readable on GitHub; monitoring/tests/test_runbooks.py checks every alert's anchor
against this page.
"""

from __future__ import annotations

from pathlib import Path

import markdown
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

RUNBOOKS = Path(__file__).resolve().parent / "runbooks.md"


@staff_member_required
def runbooks_page(request: HttpRequest) -> HttpResponse:
    """The runbooks, for staff; others go to the admin login, as on /live/."""
    # The document is the repository's own (not user input): its HTML is trusted. The toc
    # extension gives each heading the id the alerts' runbook_url link.
    html = markdown.markdown(RUNBOOKS.read_text(), extensions=["toc", "fenced_code", "tables"])
    return render(request, "monitoring/runbooks.html", {"content": mark_safe(html)})  # noqa: S308
