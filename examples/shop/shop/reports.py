"""Sales reports: a large temporary computation whose memory is all released."""

from __future__ import annotations

import statistics
from decimal import Decimal

from .repository import OrderRepository


def daily_percentiles(repository: OrderRepository, days: int = 365) -> dict[str, float]:
    """Spread the orders over a year of simulated half-hourly sales, then summarise.

    The simulated series is large (``days`` x 48 samples, about 1 MiB with the
    sorted copy) and is dropped on return.
    """
    totals = [float(order.total) for order in repository.all()] or [0.0]
    series = [
        totals[(day * 31 + slot) % len(totals)] * (1 + (slot % 7) / 10)
        for day in range(days)
        for slot in range(48)
    ]
    cuts = statistics.quantiles(series, n=100)
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98]}


def revenue(repository: OrderRepository) -> Decimal:
    return sum((o.total for o in repository.all() if o.status != "cancelled"), Decimal("0.00"))
