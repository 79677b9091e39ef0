"""ujson <= 5.12.0: the str returned by default() leaked when it held non-ASCII text and
ensure_ascii=True (ultrajson/ultrajson#631, fixed in 5.12.1)."""

import ujson


class Item:
    def __init__(self, document: str) -> None:
        self.document = document

    def __repr__(self) -> str:
        return f"Item({self.document})"


def test_dumps_with_default() -> None:
    items = [Item("生日快乐") for _ in range(3)]
    out = ujson.dumps({"items": items}, ensure_ascii=True, default=repr)
    assert out.startswith('{"items"')
