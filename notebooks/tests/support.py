"""What the notebooks tests share: the range they analyse, a short way to write its UTC
timestamps, and a parser that lists what an HTML page is made of."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd

T = pd.Timestamp


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# Monday 2025-03-03 .. Monday 2025-03-10 inclusive: 8 days.
START, END = utc("2025-03-03"), utc("2025-03-11")


class Page(HTMLParser):
    """Every element of an HTML page or fragment (tag and attributes), its text, and the text
    inside its <script> elements."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.scripts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts.append("")

    def handle_data(self, data: str) -> None:
        if self.cdata_elem == "script":  # inside a <script>: its code, not the page's text
            self.scripts[-1] += data
        else:
            self.text += data

    def tags(self, name: str) -> list[dict[str, str | None]]:
        """The attributes of each `name` element, in page order."""
        return [attrs for tag, attrs in self.elements if tag == name]

    def event_handlers(self) -> list[str]:
        """Every on* attribute (onerror, onclick...) of the page: script run by an event."""
        return [name for _, attrs in self.elements for name in attrs if name.startswith("on")]
