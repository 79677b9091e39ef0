"""Orders and their lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass
class Order:
    id: int
    customer: str
    lines: list[Line]
    total: Decimal = Decimal("0.00")
    status: str = "open"
    notes: list[str] = field(default_factory=list)
