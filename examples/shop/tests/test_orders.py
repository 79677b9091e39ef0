from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from shop.events import bus
from shop.handlers import OrderHandler, Request
from shop.models import Line
from shop.notifications import Notifier
from shop.pricing import UnknownProduct, quote
from shop.reports import daily_percentiles, revenue
from shop.repository import OrderRepository


def place(handler: OrderHandler, customer: str, *lines: tuple[str, int]) -> int:
    response = handler.handle(
        Request("POST", "/orders", {"customer": customer, "lines": list(lines)})
    )
    assert response.status == 201
    return int(response.body["id"])


def test_create_order(handler: OrderHandler, repository: OrderRepository) -> None:
    order_id = place(handler, "ada", ("KB-101", 1), ("CB-USB", 2))
    order = repository.get(order_id)
    assert order.total == Decimal("64.40")
    assert order.status == "open"


def test_quote_uses_catalogue_prices() -> None:
    assert quote([Line("HD-500", 2), Line("MS-220", 1)]) == Decimal("202.50")
    with pytest.raises(UnknownProduct):
        quote([Line("NOPE", 1)])


def test_cancel_order_is_logged(
    handler: OrderHandler, repository: OrderRepository, caplog: pytest.LogCaptureFixture
) -> None:
    order_id = place(handler, "grace", ("MS-220", 1))
    with caplog.at_level(logging.INFO, logger="shop"):
        response = handler.handle(Request("POST", f"/orders/{order_id}/cancel"))
    assert response.body["status"] == "cancelled"
    assert f"order {order_id} cancelled" in caplog.text
    assert revenue(repository) == Decimal("0.00")


def test_orders_for_customer(handler: OrderHandler, repository: OrderRepository) -> None:
    place(handler, "ada", ("KB-101", 1))
    place(handler, "linus", ("HD-500", 1))
    place(handler, "ada", ("MS-220", 3))
    assert [o.total for o in repository.for_customer("ada")] == [
        Decimal("49.90"),
        Decimal("73.50"),
    ]


def test_sales_report(handler: OrderHandler, repository: OrderRepository) -> None:
    place(handler, "ada", ("KB-101", 1))
    place(handler, "linus", ("HD-500", 2))
    report = daily_percentiles(repository)
    assert 49.9 <= report["p50"] <= report["p90"] <= report["p99"] <= 178.0 * 1.6


def test_order_confirmation_is_sent(handler: OrderHandler) -> None:
    # The notifier subscribes a bound method to the process-wide bus; the bus holds it
    # weakly, so the notifier is gone when the test ends.
    notifier = Notifier(bus)
    order_id = place(handler, "grace", ("HD-500", 1))
    assert notifier.outbox == [f"to grace: order {order_id} confirmed, total 89.00"]


def test_receipt(handler: OrderHandler) -> None:
    order_id = place(handler, "ada", ("KB-101", 1), ("CB-USB", 2))
    response = handler.handle(Request("GET", f"/orders/{order_id}/receipt"))
    assert response.status == 200
    assert response.body["total"] == "64.40"
    assert response.body["text"].startswith(f"Receipt for order {order_id}")
