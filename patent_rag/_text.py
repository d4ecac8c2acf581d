"""Foreign text made safe to show on a terminal (corpus text, file names, server messages)."""

from __future__ import annotations

import re

__all__ = ["terminal_safe"]

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: object) -> str:
    r"""``text`` as a string a terminal shows as written: escape sequences and control characters
    (other than tab and newline) removed, bidi overrides too.

    Example:
        >>> terminal_safe("\x1b[31mred\x1b[0m alert\x07")
        'red alert'
    """
    return _CONTROLS.sub("", _ESCAPES.sub("", str(text)))
