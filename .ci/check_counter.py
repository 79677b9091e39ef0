"""Check that an installed pytest-leakguard has a working allocation counter.

Run against an installed wheel (by ``.ci/run`` and by cibuildwheel's
``test-command``), from a directory without the checkout, so that the
installed copy is the one imported.  Exits 1 with a message if the counter
is missing or does not count.
"""

from __future__ import annotations

import sys

import pytest_leakguard
from pytest_leakguard.probes.memory import counter_installed


def main() -> int:
    where = pytest_leakguard.__file__
    if not counter_installed():
        print(f"ERROR: {where}: the allocation counter is not installed", file=sys.stderr)
        return 1
    from pytest_leakguard import _alloccount

    _alloccount.start()
    kept = [bytearray(1000) for _ in range(100)]
    counted, blocks = _alloccount.current(), _alloccount.blocks()
    _alloccount.stop()
    if counted < 100 * 1000 or blocks < len(kept):
        print(f"ERROR: the counter saw {counted} bytes in {blocks} blocks", file=sys.stderr)
        return 1
    print(f"ok: {_alloccount.__file__} counts ({counted} bytes in {blocks} blocks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
