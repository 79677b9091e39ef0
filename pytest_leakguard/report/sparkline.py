"""A one-line chart of a series for the terminal: ``▁▂▃▅▇█``."""

from __future__ import annotations

import math
from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """One bar per value, scaled from the lowest (``▁``) to the highest (``█``).

    A constant series is a row of ``▁``; an empty one is ``""``.  Values that
    are not finite (NaN, infinities) are drawn as a space.  With ``width``, a
    longer series is shrunk to ``width`` bars, each the mean of its share of
    the values, so the shape of a long run still fits on one line.
    """
    if width is not None:
        if width < 1:
            raise ValueError(f"width must be at least 1, not {width}")
        values = _shrink(values, width)
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    low, high = min(finite), max(finite)
    span = high - low
    top = len(BARS) - 1
    bars = []
    for value in values:
        if not math.isfinite(value):
            bars.append(" ")
        elif span == 0:
            bars.append(BARS[0])
        else:
            bars.append(BARS[int((value - low) / span * top + 0.5)])
    return "".join(bars)


def _shrink(values: Sequence[float], width: int) -> list[float]:
    """``width`` means of consecutive slices of ``values`` (unchanged if already short)."""
    count = len(values)
    if count <= width:
        return list(values)
    shrunk = []
    for index in range(width):
        part = values[index * count // width : (index + 1) * count // width]
        finite = [v for v in part if math.isfinite(v)]
        shrunk.append(sum(finite) / len(finite) if finite else math.nan)
    return shrunk
