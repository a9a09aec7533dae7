"""Validators for short names people see in other people's screens and inboxes (chat titles,
usernames): no control or invisible formatting characters.

A newline in a title breaks every email whose subject carries it (a header cannot hold one), and
a bidi override (U+202E) makes a name read differently from what it is ("exe.txt" shown for
"txt.exe"). Rejected: Unicode categories Cc (controls, tab and newline included), Cf (format:
bidi embeddings, overrides, isolates and marks, the BOM, the soft hyphen, tag characters), Zl and
Zp (line and paragraph separators, newlines by another name) and Cs (lone surrogates, which no
database encoding stores). Allowed: U+200C and U+200D (zero-width non-joiner and joiner), which
Persian and Indic spelling and emoji sequences (a family, a flag of a profession) need; they
join or split glyphs but never reorder text.
"""

import unicodedata

from django.core.exceptions import ValidationError

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
ALLOWED = frozenset({"\u200c", "\u200d"})


def is_unsafe(char: str) -> bool:
    """One refused character (see the module doc): the one definition, also used to collapse
    older data (a chat title with a newline) into a safe email subject."""
    return char not in ALLOWED and unicodedata.category(char) in UNSAFE_CATEGORIES


def unsafe_characters(value: str) -> list[str]:
    """The code points of `value` that are refused, as "U+202E", each once, in order."""
    return list(dict.fromkeys(f"U+{ord(char):04X}" for char in value if is_unsafe(char)))


def one_line(text: str) -> str:
    """`text` with each refused character and each run of whitespace made one space: for text
    stored before the validators existed (a header cannot hold a newline: Django refuses it)."""
    return " ".join("".join(" " if is_unsafe(char) else char for char in text).split())


def validate_visible_text(value: str) -> None:
    """Refuse control, bidi and other invisible formatting characters (see the module doc)."""
    found = unsafe_characters(value)
    if found:
        shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
        raise ValidationError(
            "Must not contain control or invisible formatting characters (found %(found)s).",
            code="control_characters",
            params={"found": shown},
        )
