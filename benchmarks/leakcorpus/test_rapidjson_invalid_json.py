"""python-rapidjson 0.9.3: loads() leaked the containers and keys it had built when the input
turned out invalid (python-rapidjson/python-rapidjson#148, fixed in 0.9.4)."""

import pytest
import rapidjson

TRUNCATED = '{"' + "k" * 10000 + '": [1, 2, '


def test_truncated_document() -> None:
    with pytest.raises(rapidjson.JSONDecodeError):
        rapidjson.loads(TRUNCATED)
