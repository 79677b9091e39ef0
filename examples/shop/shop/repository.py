"""An in-memory order repository (a database in a real shop)."""

from __future__ import annotations

import itertools

from .models import Line, Order
from .pricing import quote


class OrderNotFound(LookupError):
    pass


class OrderRepository:
    def __init__(self) -> None:
        self._orders: dict[int, Order] = {}
        self._ids = itertools.count(1)

    def create(self, customer: str, lines: list[Line]) -> Order:
        order = Order(next(self._ids), customer, lines, quote(lines))
        self._orders[order.id] = order
        return order

    def get(self, order_id: int) -> Order:
        try:
            return self._orders[order_id]
        except KeyError:
            raise OrderNotFound(order_id) from None

    def for_customer(self, customer: str) -> list[Order]:
        return [o for o in self._orders.values() if o.customer == customer]

    def all(self) -> list[Order]:
        return list(self._orders.values())
