"""settle(): tables whose size is timing noise are rebuilt to fit, their content kept."""

from __future__ import annotations

import sys
import threading

import pytest

from pytest_leakguard import compat
from pytest_leakguard.settle import compact_shutdown_locks, settle

FOUND = compat.shutdown_locks()


@pytest.mark.skipif(FOUND is None, reason="threading keeps no set of shutdown locks (3.13+)")
def test_the_running_threads_locks_are_rebuilt_to_fit_what_the_set_holds() -> None:
    assert FOUND is not None
    locks, _ = FOUND
    release, stay = threading.Event(), threading.Event()
    staying = threading.Thread(target=stay.wait)
    staying.start()
    threads = [threading.Thread(target=release.wait) for _ in range(40)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join()
    try:
        held = set(locks)
        # Joined threads left the set, but not its table: the noise this is about.
        assert sys.getsizeof(locks) > sys.getsizeof(set(held))
        compact_shutdown_locks()
        assert compat.shutdown_locks() == (locks, FOUND[1])  # the same set, rebuilt
        assert locks == held
        assert staying._tstate_lock in locks  # type: ignore[attr-defined]
        assert sys.getsizeof(locks) == sys.getsizeof(set(held))
    finally:
        stay.set()
        staying.join()


def test_settle_runs_where_threading_keeps_no_such_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(threading, "_shutdown_locks", raising=False)
    assert compat.shutdown_locks() is None
    settle()
