"""Order confirmations, sent when the bus says an order was created."""

from __future__ import annotations

from .events import EventBus
from .models import Order


class Notifier:
    """Subscribes its bound method to the bus; keeps what it sent (an outbox)."""

    def __init__(self, bus: EventBus) -> None:
        self.outbox: list[str] = []
        bus.subscribe("order.created", self.on_order_created)

    def on_order_created(self, order: Order) -> None:
        self.outbox.append(f"to {order.customer}: order {order.id} confirmed, total {order.total}")
