"""Delivery of share notifications (here: an outbox the tests can read)."""

from __future__ import annotations

from typing import Any

from .signals import note_shared

OUTBOX: list[tuple[str, int]] = []
"""(recipient, note id) of every notification sent; a test clears it."""


@note_shared.connect
def send(sender: Any, recipient: str, **extra: Any) -> None:
    OUTBOX.append((recipient, sender.id))
