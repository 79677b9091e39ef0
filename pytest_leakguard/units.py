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


def parse_size(text: str | int | float) -> int:
    """Return the number of bytes in ``text`` (``512``, ``64 B``, ``1 KB``, ``1 KiB``, ``2 MiB``).

    ``KB``/``MB``/``GB`` are decimal (1000), ``KiB``/``MiB``/``GiB`` (and the
    bare letters ``K``/``M``/``G``) binary (1024).  Raises ``ValueError`` with a
    sentence that can be shown to a user.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a size")
    if isinstance(text, (int, float)):
        if not math.isfinite(text):
            raise ValueError(f"{text!r} is not a finite size")
        if text < 0:
            raise ValueError(f"{text!r} is negative; a size must be 0 or more")
        return int(text)
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a size; use a number of bytes with an optional unit,"
            " for example 512, 64 B, 1 KB, 1 KiB or 2 MiB"
        )
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(
            f"{text!r} has an unknown unit {unit!r}; use B, KB, MB, GB, KiB, MiB or GiB"
        )
    value = int(Decimal(number) * factor)  # exact, unlike float(number) * factor
    if value >= 2**63:
        raise ValueError(f"{text!r} is too large")
    return value


def parse_count(text: str | int | float) -> float:
    """Return a non-negative number of objects or blocks per run."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a count")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    if value < 0:
        raise ValueError(f"{text!r} is negative; a count must be 0 or more")
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
