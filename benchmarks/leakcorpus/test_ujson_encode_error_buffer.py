"""ujson 5.3.0: the C output buffer leaked when encoding failed after it had grown
(ultrajson/ultrajson#549, fixed in 5.4.0)."""

import pytest
import ujson


class NotSerializable:
    pass


DATA = ["a" * 65536, NotSerializable()]


def test_encode_error() -> None:
    with pytest.raises((TypeError, OverflowError)):
        ujson.dumps(DATA)
