"""frozendict 2.3.2: repr() leaked its string (Marco-Sulla/python-frozendict#59, fixed in 2.3.3)."""

from frozendict import frozendict


def test_repr() -> None:
    assert repr(frozendict({i: i for i in range(1000)})).endswith("999: 999})")
