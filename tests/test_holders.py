"""End-to-end: decide by the holder (#14 item 4).

Growth held in a container whose bound is known and not reached (an
``lru_cache`` with a ``maxsize``, a ``deque`` with a ``maxlen``) is bounded:
``clean`` with the reason.  A module-level container that gains entries every
run is a leak even when the bytes barely move (the same object appended each
run).  Ground truth, a standalone loop: the cache and the deque stop growing at
their bound, the list's length grows by one per call forever.
"""

from __future__ import annotations

import pytest
from helpers import LeakRun, SharedRuns, describe

pytest_plugins = ["pytester"]

SUITE = """
import collections
import functools

COUNTER = [0]


@functools.lru_cache(maxsize=128)
def parse(key):
    return {"key": key, "data": [key] * 10}


def test_lru_cache_filling():
    COUNTER[0] += 1
    parse(f"key-{COUNTER[0]}")


RECENT = collections.deque(maxlen=200)


def test_deque_filling():
    RECENT.append(bytearray(200))


def on_event():
    pass


LISTENERS = []


def subscribe(callback):
    LISTENERS.append(callback)


def test_listener_registered_every_call():
    subscribe(on_event)


class Registry:
    seen = []


def test_class_level_list_of_none():
    Registry.seen.append(None)


PENDING = []


def test_queue_purged_when_long():
    PENDING.append(on_event)
    if len(PENDING) > 6:
        PENDING.clear()


FULL = collections.deque(maxlen=4)


def test_full_deque():
    FULL.append(object())


def test_clean():
    [object() for _ in range(10)]
"""

_RUNS = SharedRuns()


@pytest.fixture
def run(pytester: pytest.Pytester) -> LeakRun:
    # The holder rules decide where the window cannot: thorough counts, so that a list's
    # resize falls in the window; no confirmation stage, which would see a cache's bound.
    return _RUNS.get(
        pytester, "test_held", SUITE, "--leakguard-thorough", "--leakguard-confirm-seconds=0"
    )


@pytest.mark.parametrize(
    ("name", "holder", "bound"),
    [
        ("test_lru_cache_filling", "module test_held . parse (_lru_cache_wrapper)", 128),
        ("test_deque_filling", "module test_held . RECENT (deque)", 200),
    ],
)
def test_a_bounded_cache_still_filling_is_clean(
    run: LeakRun, name: str, holder: str, bound: int
) -> None:
    entry = run.entry(f"test_held.py::{name}")
    assert entry["verdict"] == "clean", describe(entry)
    assert entry["reason"].startswith("bounded cache filling: "), describe(entry)
    filled, of = entry["reason"].split(": ", 1)[1].split(" ", 1)[0].split("/")
    assert int(of) == bound, entry["reason"]
    assert 0 < int(filled) < bound, entry["reason"]
    assert holder in entry["reason"]
    assert run.status(f"test_held.py::{name}") == "PASSED"


@pytest.mark.parametrize(
    ("name", "holder"),
    [
        ("test_listener_registered_every_call", "module test_held . LISTENERS (list)"),
        ("test_class_level_list_of_none", "module test_held . Registry . seen (list)"),
    ],
)
def test_a_container_that_gains_an_entry_every_run_is_a_leak(
    run: LeakRun, name: str, holder: str
) -> None:
    nodeid = f"test_held.py::{name}"
    entry = run.entry(nodeid)
    assert entry["verdict"] == "leak", describe(entry)
    assert holder in entry["reason"], describe(entry)
    assert "entries every run" in entry["reason"]
    assert run.status(nodeid) == "LEAKED"
    assert holder in run.output()


@pytest.mark.parametrize("name", ["test_full_deque", "test_queue_purged_when_long", "test_clean"])
def test_no_holder_growth_stays_clean(run: LeakRun, name: str) -> None:
    entry = run.entry(f"test_held.py::{name}")
    assert entry["verdict"] == "clean", describe(entry)
    assert "entries every run" not in entry.get("reason", "")
