"""settle(): tables whose size is timing noise are rebuilt to fit, their content kept."""

from __future__ import annotations

import sys
import threading

import pytest

from pytest_leakguard import compat
from pytest_leakguard.settle import (
    compact_dangling_threads,
    compact_rerun_tables,
    compact_shutdown_locks,
    compact_thread_tables,
    settle,
)

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


def test_the_registry_of_threads_made_is_rebuilt_to_fit_what_it_holds() -> None:
    data = compat.dangling_threads()
    if data is None:
        pytest.skip("threading keeps no registry of the threads made")
    kept = threading.Thread(target=lambda: None)
    made = [threading.Thread(target=lambda: None) for _ in range(100)]
    del made  # their weak references leave the set, but not its table
    held = set(data)
    assert sys.getsizeof(data) > sys.getsizeof(set(held))
    compact_dangling_threads()
    assert compat.dangling_threads() is data  # the same set, rebuilt
    assert data == held
    assert kept in threading._dangling  # type: ignore[attr-defined]
    assert sys.getsizeof(data) == sys.getsizeof(set(held))


def test_a_registry_being_iterated_is_left_alone() -> None:
    registry = threading._dangling  # type: ignore[attr-defined]
    made = threading.Thread(target=lambda: None)
    seen = []
    for thread in registry:  # iterating: removals are deferred, the set must not move
        seen.append(thread)
        assert compat.dangling_threads() is None
        break
    assert seen
    assert made in registry
    assert compat.dangling_threads() is registry.data


def _churn_threads(count: int) -> None:
    release = threading.Event()
    threads = [threading.Thread(target=release.wait) for _ in range(count)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join()


def test_the_tables_of_running_threads_are_rebuilt_when_only_this_thread_runs() -> None:
    found = compat.thread_tables()
    if found is None:
        pytest.skip("threading keeps no such tables")
    active, limbo, _ = found
    if list(active) != [threading.get_ident()]:
        pytest.skip("other threads run in this process")
    _churn_threads(40)
    # The threads left the table, but not its size: the noise this is about.
    assert sys.getsizeof(active) > sys.getsizeof(dict(active.items()))
    entry = active[threading.get_ident()]
    compact_thread_tables()
    assert compat.thread_tables() == found  # the same dicts, refilled
    assert list(active.items()) == [(threading.get_ident(), entry)]
    assert not limbo
    assert sys.getsizeof(active) == sys.getsizeof(dict(active.items()))
    assert threading.current_thread() is entry


def test_the_tables_are_left_alone_while_another_thread_runs() -> None:
    found = compat.thread_tables()
    if found is None:
        pytest.skip("threading keeps no such tables")
    active = found[0]
    _churn_threads(40)
    stay = threading.Event()
    staying = threading.Thread(target=stay.wait)
    staying.start()
    try:
        size = sys.getsizeof(active)
        compact_thread_tables()
        assert sys.getsizeof(active) == size  # current_thread() may be reading it
        assert active[staying.ident] is staying  # type: ignore[index]
    finally:
        stay.set()
        staying.join()


def test_a_reruns_dicts_are_rebuilt_from_their_items(pytester: pytest.Pytester) -> None:
    item = pytester.getitem("def test_func(): pass")
    keys = [pytest.StashKey[int]() for _ in range(40)]
    for key in keys:
        item.stash[key] = 1
    for key in keys[1:]:
        del item.stash[key]
    storage = item.stash._storage  # type: ignore[attr-defined]
    assert sys.getsizeof(storage) > sys.getsizeof(dict(storage.items()))
    compact_rerun_tables(item)
    assert item.stash[keys[0]] == 1
    assert keys[1] not in item.stash
    fitted = item.stash._storage  # type: ignore[attr-defined]
    assert sys.getsizeof(fitted) == sys.getsizeof(dict(storage.items()))


def test_the_threads_probes_sites_are_refilled_at_each_sample() -> None:
    from pytest_leakguard.probes.resources import ThreadsProbe

    probe = ThreadsProbe()
    probe.start()
    try:
        _churn_threads(40)
        table = probe._sites.data  # type: ignore[attr-defined]
        assert sys.getsizeof(table) > sys.getsizeof({})  # the threads left, the table stayed
        probe.sample()
        assert probe._sites.data is table  # type: ignore[attr-defined]
        assert sys.getsizeof(table) == sys.getsizeof({})
    finally:
        probe.stop()
