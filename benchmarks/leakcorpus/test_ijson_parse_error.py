"""ijson 3.2.0.post0: the yajl2_c backend leaked its parser when yajl reported an error
(ICRAR/ijson#97, fixed in 3.2.1)."""

import ijson
import pytest


def test_invalid_document() -> None:
    with pytest.raises(ijson.JSONError):
        next(ijson.items(b"XXX", "whatever"))
