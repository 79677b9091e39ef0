"""frozendict 2.3.0-2.3.1: hash() of a frozendict leaked it (Marco-Sulla/python-frozendict#55)."""

from frozendict import frozendict


def test_frozendict_as_key() -> None:
    fz = frozendict({i: i for i in range(1000)})
    assert {fz: 1}[fz] == 1
