"""python-rapidjson 1.23: RawJSON() leaked the object it had allocated when it rejected its
argument (python-rapidjson/python-rapidjson#239, fixed in 1.24; 1.25 is the first fixed release
on this machine's index)."""

import pytest
import rapidjson


def test_rawjson_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        rapidjson.RawJSON(1)
