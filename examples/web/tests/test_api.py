from __future__ import annotations

from flask.testing import FlaskClient
from notes.mailer import OUTBOX


def create(client: FlaskClient, **fields: object) -> dict[str, object]:
    response = client.post("/notes", json={"title": "groceries", **fields})
    assert response.status_code == 201
    data: dict[str, object] = response.get_json()
    return data


def test_health(client: FlaskClient) -> None:
    assert client.get("/health").get_json() == {"status": "ok"}


def test_create_and_show(client: FlaskClient) -> None:
    note = create(client, body="milk, eggs", tags=["home"])
    response = client.get(f"/notes/{note['id']}")
    assert response.get_json()["body"] == "milk, eggs"


def test_missing_note_is_404(client: FlaskClient) -> None:
    assert client.get("/notes/999").status_code == 404


def test_delete(client: FlaskClient) -> None:
    note = create(client)
    assert client.delete(f"/notes/{note['id']}").status_code == 204
    assert client.get(f"/notes/{note['id']}").status_code == 404


def test_search_by_tag(client: FlaskClient) -> None:
    first = create(client, tags=["home"])
    create(client, tags=["work"])
    assert client.get("/tags/ Home ").get_json() == [first["id"]]


def test_share(client: FlaskClient) -> None:
    note = create(client)
    response = client.post(f"/notes/{note['id']}/share", json={"to": ["ana@example.com"]})
    assert response.get_json() == {"id": note["id"], "delivered": ["ana@example.com"]}
    assert list(OUTBOX) == [("ana@example.com", note["id"])]
