"""Where the notes live: an in-memory store, one per application."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field


@dataclass
class Note:
    id: int
    title: str
    body: str
    tags: tuple[str, ...] = ()
    shared_with: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "tags": list(self.tags),
            "shared_with": list(self.shared_with),
        }


class NoteStore:
    """Notes by id."""

    def __init__(self) -> None:
        self._notes: dict[int, Note] = {}
        self._ids = itertools.count(1)

    def add(self, title: str, body: str, tags: tuple[str, ...] = ()) -> Note:
        note = Note(next(self._ids), title, body, tags)
        self._notes[note.id] = note
        return note

    def get(self, note_id: int) -> Note | None:
        return self._notes.get(note_id)

    def delete(self, note_id: int) -> bool:
        return self._notes.pop(note_id, None) is not None

    def tagged(self, tag: str) -> list[Note]:
        return [note for note in self._notes.values() if tag in note.tags]
