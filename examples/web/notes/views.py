"""The HTTP API."""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from . import mailer  # noqa: F401  (subscribes the mailer to note_shared)
from .signals import note_shared
from .store import Note, NoteStore

api = Blueprint("api", __name__)


def _store() -> NoteStore:
    store: NoteStore = current_app.extensions["notes.store"]
    return store


def _note(note_id: int) -> Note:
    note = _store().get(note_id)
    if note is None:
        abort(404)
    return note


@api.get("/health")
def health() -> ResponseReturnValue:
    return {"status": "ok"}


@api.post("/notes")
def create() -> ResponseReturnValue:
    data = request.get_json()
    note = _store().add(data["title"], data.get("body", ""), tuple(data.get("tags", ())))
    return note.to_json(), 201


@api.get("/notes/<int:note_id>")
def show(note_id: int) -> ResponseReturnValue:
    return _note(note_id).to_json()


@api.delete("/notes/<int:note_id>")
def delete(note_id: int) -> ResponseReturnValue:
    if not _store().delete(note_id):
        abort(404)
    return "", 204


@api.get("/tags/<tag>")
def tagged(tag: str) -> ResponseReturnValue:
    return jsonify([note.id for note in _store().tagged(_normalise(tag))])


@functools.lru_cache(maxsize=256)
def _normalise(tag: str) -> str:
    """Bounded: not a leak, filled once by the first requests."""
    return tag.strip().lower()


@api.post("/notes/<int:note_id>/share")
def share(note_id: int) -> ResponseReturnValue:
    note = _note(note_id)
    delivered: list[str] = []

    def confirm(sender: Any, recipient: str, **extra: Any) -> None:
        if sender is note:
            delivered.append(recipient)

    # The closure is referenced by nothing else, so blinker's default weak reference
    # would drop it before the first send: weak=False keeps it... and nothing ever
    # disconnects it. Every share request adds a receiver (and its note) for good.
    note_shared.connect(confirm, weak=False)
    for recipient in request.get_json()["to"]:
        note.shared_with.append(recipient)
        note_shared.send(note, recipient=recipient)
    return {"id": note.id, "delivered": delivered}
