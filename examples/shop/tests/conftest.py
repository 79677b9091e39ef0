from __future__ import annotations

import pytest
from shop.handlers import OrderHandler
from shop.repository import OrderRepository


@pytest.fixture
def repository() -> OrderRepository:
    """A fresh repository per test: it is dropped when the test ends, so it never leaks."""
    return OrderRepository()


@pytest.fixture
def handler(repository: OrderRepository) -> OrderHandler:
    return OrderHandler(repository)
