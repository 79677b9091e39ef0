"""Catalogue prices, behind a bounded cache."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from .models import Line

CATALOGUE = {
    "KB-101": "49.90",
    "MS-220": "24.50",
    "HD-500": "89.00",
    "CB-USB": "7.25",
}


class UnknownProduct(LookupError):
    pass


@lru_cache(maxsize=128)
def unit_price(sku: str) -> Decimal:
    """The price of one unit (a slow lookup in a real shop, hence the cache)."""
    try:
        return Decimal(CATALOGUE[sku])
    except KeyError:
        raise UnknownProduct(sku) from None


def quote(lines: list[Line]) -> Decimal:
    return sum((unit_price(line.sku) * line.quantity for line in lines), Decimal("0.00"))
