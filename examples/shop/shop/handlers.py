"""The request handler: routes a request to the repository and renders a response."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from . import events
from .models import Line
from .repository import OrderNotFound, OrderRepository

log = logging.getLogger(__name__)

_request_ids = itertools.count(1)

_RESPONSE_CACHE: dict[int, dict[str, Any]] = {}
"""Rendered receipts by request id, so that a retried request gets the same
receipt.  Nothing ever evicts an entry: this is the leak the example shows."""


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_request_ids))


@dataclass
class Response:
    status: int
    body: dict[str, Any]


class OrderHandler:
    def __init__(self, repository: OrderRepository, bus: events.EventBus = events.bus) -> None:
        self.repository = repository
        self.bus = bus

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        try:
            if request.method == "POST" and parts == ["orders"]:
                return self._create(request)
            if request.method == "GET" and len(parts) == 3 and parts[2] == "receipt":
                return self._receipt(request, int(parts[1]))
            if request.method == "POST" and len(parts) == 3 and parts[2] == "cancel":
                return self._cancel(int(parts[1]))
        except OrderNotFound as exc:
            return Response(404, {"error": f"no order {exc}"})
        return Response(404, {"error": f"no route for {request.method} {request.path}"})

    def _create(self, request: Request) -> Response:
        lines = [Line(sku, quantity) for sku, quantity in request.body["lines"]]
        order = self.repository.create(request.body["customer"], lines)
        log.info("order %s created for %s", order.id, order.customer)
        self.bus.publish("order.created", order)
        return Response(201, {"id": order.id, "total": str(order.total)})

    def _cancel(self, order_id: int) -> Response:
        order = self.repository.get(order_id)
        order.status = "cancelled"
        log.info("order %s cancelled", order_id)
        return Response(200, {"id": order_id, "status": order.status})

    def _receipt(self, request: Request, order_id: int) -> Response:
        cached = _RESPONSE_CACHE.get(request.id)
        if cached is None:
            order = self.repository.get(order_id)
            cached = {
                "order": order.id,
                "customer": order.customer,
                "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines],
                "total": str(order.total),
                "text": f"Receipt for order {order.id}\n" + "-" * 40 + "\n" * 8,
            }
            _RESPONSE_CACHE[request.id] = cached
        return Response(200, cached)
