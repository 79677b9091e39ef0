"""A small notes service built with Flask: the application factory."""

from __future__ import annotations

from flask import Flask

from .store import NoteStore
from .views import api


def create_app(store: NoteStore | None = None) -> Flask:
    """The application, with its own store (a fresh one unless given)."""
    app = Flask(__name__)
    app.extensions["notes.store"] = store if store is not None else NoteStore()
    app.register_blueprint(api)
    return app
