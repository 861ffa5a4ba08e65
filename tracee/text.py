"""Rules for the short texts people name things with (trackers, steps, templates, tenants, keys).

A name is kept in one spelling (NFC): "é" typed as one character or as "e"
plus an accent is the same name. It may not hold control characters, nor
invisible format characters (Unicode category Cf: zero-width spaces and
joiners, bidirectional marks, overrides and isolates, the byte-order mark,
word joiners, soft hyphens...): with them two names that look alike could
differ, and a name could display in another order than it is stored.
"""

import re
import unicodedata

# C: control, format (invisible), unpaired surrogate (no text at all).
_REFUSED_CATEGORIES = {"Cc": "control characters or NUL bytes",
                       "Cf": "invisible formatting characters",
                       "Cs": "unpaired surrogates"}


class InvalidName(ValueError):
    """A name the rules below refuse; the message completes "<field> ..."."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_printable(text: str) -> bool:
    """No C0/C1 control characters or NUL: they break displays, logs and PostgreSQL text."""
    # One search in C: a generator over the characters made a Python call per
    # character, for every name checked (twice per create: validated, stored).
    return _CONTROL.search(text) is None


def normalise_name(text: str) -> str:
    """Surrounding white space dropped, and composed (NFC)."""
    text = text.strip()
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a name ("must not ..."), or None."""
    if not is_printable(text):
        return "must not contain control characters or NUL bytes"
    if text.isascii():  # the usual case: nothing below can be in it
        return None
    for c in text:
        kind = _REFUSED_CATEGORIES.get(unicodedata.category(c))
        if kind is not None:
            return f"must not contain {kind} (found U+{ord(c):04X})"
    return None


def clean_name(text: str) -> str:
    """``text`` as a name is stored; :class:`InvalidName` if the rules refuse it."""
    name = normalise_name(text)
    if not name:
        raise InvalidName("must not be empty")
    problem = name_problem(name)
    if problem is not None:
        raise InvalidName(problem)
    return name


def name_key(text: str) -> str:
    """What two names share when they are the same name: one spelling, white
    space folded, case folded ("3D  printing" is "3d Printing")."""
    folded = " ".join(text.split()).casefold()
    return folded if folded.isascii() else unicodedata.normalize("NFC", folded)
