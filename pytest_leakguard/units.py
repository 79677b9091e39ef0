"""Parse and format sizes and counts (pure, no pytest import)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

PROBE_UNITS = ("bytes", "count", "resources")
"""The units a probe may have: each has its own budget rules (and baseline compare rule)."""

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "k": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def shown(value: object, limit: int = 2000) -> str:
    """``repr(value)`` for a message to a user: never raises, and is cut after ``limit`` characters.

    ``repr`` raises for an integer of more than 4300 digits (Python 3.11+) and for
    nesting deeper than the recursion limit; such values are described instead.
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        if isinstance(value, int):
            return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        return f"a {type(value).__name__} nested too deep"
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_SIZE = 2**63 - 1
"""The largest size (8 EiB) or count accepted: a budget or tolerance above it is a typo."""


def parse_size(text: str | int | float) -> int:
    """Return the number of bytes in ``text`` (``512``, ``64 B``, ``1 KB``, ``1 KiB``, ``2 MiB``).

    ``KB``/``MB``/``GB`` are decimal (1000), ``KiB``/``MiB``/``GiB`` (and the
    bare letters ``K``/``M``/``G``) binary (1024).  Sizes are 0 to :data:`MAX_SIZE`.
    Raises ``ValueError`` with a sentence that can be shown to a user.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"{shown(text)} is not a size")
    if isinstance(text, float) and not math.isfinite(text):
        raise ValueError(f"{text!r} is not a finite size")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(f"{shown(text)} is negative; a size must be 0 or more")
        value = int(text)
    else:
        value = _parse_size_text(text)
    if value > MAX_SIZE:
        raise ValueError(f"{shown(text)} is too large; a size is at most {MAX_SIZE} bytes")
    return value


def _parse_size_text(text: str) -> int:
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(
            f"{shown(text)} is not a size; use a number of bytes with an optional unit,"
            " for example 512, 64 B, 1 KB, 1 KiB or 2 MiB"
        )
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(
            f"{shown(text)} has an unknown unit {unit!r}; use B, KB, MB, GB, KiB, MiB or GiB"
        )
    return int(Decimal(number) * factor)  # exact, unlike float(number) * factor


def parse_count(text: str | int | float) -> float:
    """Return a number of objects or blocks per run (or a percentage): 0 to :data:`MAX_SIZE`."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a count")
    if not isinstance(text, (str, int, float)):
        raise ValueError(f"{shown(text)} is not a number")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{shown(text)} is not a number") from None
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{shown(text)} is not a finite number") from None
    if not math.isfinite(value):
        raise ValueError(f"{shown(text)} is not a finite number")
    if value < 0:
        raise ValueError(f"{shown(text)} is negative; a count must be 0 or more")
    if value > MAX_SIZE:
        raise ValueError(f"{shown(text)} is too large; a count is at most {MAX_SIZE}")
    return value


def format_size(value: float) -> str:
    """Format bytes for people: ``512 B``, ``1.5 KiB``, ``-2.0 MiB``."""
    size = abs(value)
    unit = "B"
    shown: float = round(size)
    for bigger in ("KiB", "MiB", "GiB"):
        if shown < 1024:
            break
        size /= 1024
        unit = bigger
        shown = round(size, 1)
    sign = "-" if value < 0 and shown else ""
    return f"{sign}{shown:.0f} {unit}" if unit == "B" else f"{sign}{shown:.1f} {unit}"


def format_amount(value: float, unit: str) -> str:
    """Format a per-run figure in the probe's unit (``bytes`` or ``count``) for people.

    Counts get one decimal at most: ``1.3``, ``2`` (not ``1.33333`` or ``2.0``); the
    JSON report keeps the full figure.
    """
    if unit == "bytes":
        return format_size(value)
    if not math.isfinite(value):
        return str(value)
    shown = round(value, 1)
    if shown == int(shown):
        return f"{int(shown)}"
    return f"{shown:.1f}"
