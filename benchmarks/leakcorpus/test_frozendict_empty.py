"""frozendict 2.3.2: frozendict({}) leaked a reference (Marco-Sulla/python-frozendict#60,
fixed in 2.3.3)."""

from frozendict import frozendict


def test_empty() -> None:
    assert len(frozendict({})) == 0
