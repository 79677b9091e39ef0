"""The service's signals (blinker, as Flask's own): other parts of the code subscribe."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

note_shared = _signals.signal("note-shared")
"""Sent once per recipient when a note is shared; the mailer subscribes to it."""
