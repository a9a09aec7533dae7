"""A corpus of hostile strings for what users type (chat titles, usernames, message texts): each
must be stored and shown literally, or refused with a 400 naming the field, and never break a
job, an email header, a chart, a CSV cell, a notebook or a page.

`ACCEPTED` are valid as chat titles and message texts alike (usernames keep Django's own
character rules, so a username uses the few of them it allows); `REFUSED_IN_NAMES` are refused
in titles and usernames with a 400 naming the field (core.validators), and NUL in any field.
"""

from __future__ import annotations

# Each one is a name a chat could really be given; the comment says what it attacks.
ACCEPTED: dict[str, str] = {
    "tex_unknown": r"$\foo$",  # matplotlib mathtext: an unknown command, savefig raises
    "tex_dollars": r"$x^2$ and $\frac{1}{0}$ cost $5$",  # TeX between pairs of dollars
    "tex_backslash": r"C:\new\table \\ \begin{x}",  # TeX commands, escapes
    "html_img": '<img src=x onerror="alert(1)">',  # stored script in a rendered page
    "html_script": "</script><script>alert(document.domain)</script>",  # breaks out of a script
    "markdown": "**bold** [link](javascript:alert(1)) `code` # heading",  # Markdown injection
    "formula_eq": '=HYPERLINK("http://evil.example","click")',  # spreadsheet formula
    "formula_plus": "+1+cmd|' /C calc'!A0",  # DDE formula
    "formula_minus": "-2+3",
    "formula_at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "quotes": "\"double\" 'single' `back` ; , | \\",  # CSV, shell and SQL quoting
    "template": "{{ 7*7 }} {% debug %} ${7*7} %(x)s {0}",  # template engines, str.format
    "zero_width": "zero\u200dwidth\u200cjoiners",  # allowed joiners (emoji, Persian)
    "combining": "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319algo",  # zalgo
    "emoji": "Team \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f680\U0001f1fa\U0001f1e6",
    "rtl": "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd chat",  # Arabic, Hebrew
    "cjk": "\u804a\u5929\u5ba4 \u30c1\u30e3\u30c3\u30c8 \ucc44\ud305",
    "long": "L" * 200,  # the longest title allowed
    "header_words": "Bcc: victim@example.com Subject: hi",  # header injection, no newline
}

# Titles and usernames refuse these (core.validators): a newline breaks an email header, a bidi
# override makes a name read as another, NUL cannot be stored.
REFUSED_IN_NAMES: dict[str, str] = {
    "newline": "line one\nBcc: victim@example.com",
    "bidi_override": "invoice\u202egpj.exe",
    "bidi_isolate": "\u2067abc\u2069",
    "zero_width_space": "zero\u200bspace",
    "nul": "nul\x00byte",
}
