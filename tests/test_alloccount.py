"""The compiled allocation counter behind the ``heap`` probe, and its tracemalloc fallback.

The counter hooks the interpreter's allocators, which are process-global: each
check runs in a fresh interpreter (``subprocess``), and the end-to-end tests
drive the plugin through ``pytester.runpytest_subprocess``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from helpers import COUNTER_BUILT, NO_COUNTER

needs_counter = pytest.mark.skipif(
    not COUNTER_BUILT, reason="the allocation counter was not built (no C compiler?)"
)


def run_python(source: str) -> Any:
    """Run ``source`` in a fresh interpreter; it prints one JSON value, returned here."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


# Workloads measured by both the counter and tracemalloc; each returns what must stay
# alive, so the figure is what it kept.
WORKLOADS = """
import gc, json, sys, tracemalloc
from pytest_leakguard import _alloccount

def dicts():
    return [{"id": n, "tags": [n, str(n)]} for n in range(2000)]

def string_grows():
    global S
    S = S + "abcd"  # a new block of the next size, the old one freed

def list_grows_in_place():
    L.append(None)  # the item array is resized in place, no new block

def big_bytes():
    return b"x" * (3 * 1024 * 1024)  # beyond pymalloc: the OBJ domain's raw fallback

def cycle():
    a = []
    a.append(a)

S = ""
L = []
"""


@needs_counter
def test_counter_agrees_with_tracemalloc_byte_for_byte() -> None:
    figures = run_python(
        WORKLOADS
        + """
_alloccount.start()
tracemalloc.start(1)  # wraps the counter: both see every allocation

def both():
    gc.collect()
    return (
        _alloccount.current(),
        tracemalloc.get_traced_memory()[0],
        _alloccount.blocks(),
        sys.getallocatedblocks(),
    )

out = {}
for name in ("dicts", "string_grows", "list_grows_in_place", "big_bytes", "cycle"):
    steps = [[0, 0, 0, 0] for _ in range(6)]  # preallocated: only the workload's memory moves
    kept = [None] * 6
    for run in range(6):
        before = both()
        kept[run] = globals()[name]()
        after = both()
        for i in range(4):
            steps[run][i] = after[i] - before[i]
    out[name] = steps
print(json.dumps(out))
"""
    )
    # Per workload and run: bytes counted, bytes traced, blocks counted, allocated blocks.
    for name, steps in figures.items():
        assert [s[0] for s in steps] == [s[1] for s in steps], (name, steps)
        # A workload's first run makes one-off allocations (free lists, the specializing
        # interpreter's caches) that the two may count one apart.
        assert abs(steps[0][2] - steps[0][3]) <= 2, (name, steps)
        assert [s[2] for s in steps[1:]] == [s[3] for s in steps[1:]], (name, steps)
    assert figures["dicts"][1][0] > 2000 * 100  # what the list of dicts keeps
    assert figures["dicts"][1][2] >= 2000 * 3  # a dict, a list and a string per item
    assert [s[0] for s in figures["string_grows"]][2:] == [4] * 4  # 4 bytes...
    assert [s[2] for s in figures["string_grows"]][2:] == [0] * 4  # ...and no new block
    assert sum(s[0] for s in figures["list_grows_in_place"]) > 0
    assert all(s[0] >= 3 * 1024 * 1024 and s[2] == 1 for s in figures["big_bytes"])
    assert all(s[0] == 0 and s[2] == 0 for s in figures["cycle"])


@needs_counter
def test_counter_ignores_memory_from_before_it_started() -> None:
    figures = run_python(
        """
import gc, json
from pytest_leakguard import _alloccount

old = [str(n) * 10 for n in range(10000)]
_alloccount.start()
start = _alloccount.current()
del old  # freed, but never counted: no negative figure
gc.collect()
freed = _alloccount.current() - start
new = [str(n) * 10 for n in range(10000)]
grown = _alloccount.current() - start
del new
gc.collect()
back = _alloccount.current() - start  # the ints freed and grown are still alive
print(json.dumps([freed, grown, back]))
"""
    )
    freed, grown, back = figures
    assert freed == 0
    assert grown > 10000 * 50
    assert back < 1024  # of the 500 KB counted


@needs_counter
def test_counter_start_stop_and_errors() -> None:
    figures = run_python(
        """
import json, tracemalloc
from pytest_leakguard import _alloccount

out = {}
try:
    _alloccount.current()
except RuntimeError as exc:
    out["before start"] = str(exc)
_alloccount.start()
kept = [bytearray(1000) for _ in range(100)]
out["counting"] = [_alloccount.is_counting(), _alloccount.current() >= 100 * 1000]
_alloccount.start()  # again: counts from zero
out["restarted"] = _alloccount.current() < 1000
_alloccount.stop()
out["stopped"] = _alloccount.is_counting()
tracemalloc.start()  # wraps the counter's hooks...
_alloccount.start()
tracemalloc.stop()  # ...and puts them back
kept2 = [bytearray(1000) for _ in range(10)]
out["wrapped"] = _alloccount.current() >= 10 * 1000
print(json.dumps(out))
"""
    )
    assert figures["before start"] == "the allocation counter is not started"
    assert figures["counting"] == [True, True]
    assert figures["restarted"] is True
    assert figures["stopped"] is False
    assert figures["wrapped"] is True


@needs_counter
def test_counter_removed_with_a_hook_installed_before_it_says_so() -> None:
    figures = run_python(
        """
import json, tracemalloc
from pytest_leakguard import _alloccount

out = {}
tracemalloc.start()
_alloccount.start()  # wraps tracemalloc's hooks...
tracemalloc.stop()  # ...which puts back what was there before it: the counter is gone
try:
    _alloccount.current()
except RuntimeError as exc:
    out["removed"] = str(exc)
_alloccount.start()  # installs the hooks again
kept = [bytearray(1000) for _ in range(10)]
out["reinstalled"] = _alloccount.current() >= 10 * 1000
print(json.dumps(out))
"""
    )
    assert "hook was removed" in figures["removed"]
    assert figures["reinstalled"] is True


@needs_counter
def test_counter_survives_a_heavy_mixed_workload() -> None:
    # Millions of allocations, frees and reallocs through table growth and deletions
    # (backward-shift deletion must keep every entry findable): all freed, it is 0.
    figures = run_python(
        """
import gc, json, random
from pytest_leakguard import _alloccount

random.seed(7)
_alloccount.start()
base = _alloccount.current()
lists, strings = {}, {}
for step in range(300000):
    key = random.randrange(50000)
    kind = random.random()
    if kind < 0.3:
        lists[key] = [0] * random.randrange(1, 300)
    elif kind < 0.6:
        lists.setdefault(key, []).extend(range(random.randrange(1, 50)))
    elif kind < 0.9:
        strings[key] = "x" * random.randrange(1, 5000)
    else:
        lists.pop(key, None)
        strings.pop(key, None)
peak = _alloccount.current() - base
del lists, strings
gc.collect()
print(json.dumps([peak, _alloccount.current() - base]))
"""
    )
    peak, left = figures
    assert peak > 10 * 1024 * 1024
    assert left < 4096  # of the 10 MiB: the loop variables and peak, still alive


SLOW_LEAK = """
import pytest

S = ""


# The window as before the confirmation stage and the screen: past 1 KiB the string gains a
# block once; the first test of a process also sees pytest's setup stack grow in its second
# re-run (one dict resize), which a second warm-up run absorbs.
@pytest.mark.leakguard(confirm_runs=20, warmup=2)
def test_slow():
    global S
    S = S + "abcd"


def test_clean():
    data = [str(n) for n in range(1000)]
    assert len(data) == 1000
"""


@pytest.mark.parametrize(
    ("python_flags", "pytest_args", "engine"),
    [
        pytest.param((), (), "allocation counter", marks=needs_counter, id="counter"),
        pytest.param((), ("-p", "no_counter"), "tracemalloc", id="not-built"),
        pytest.param(("-X", "tracemalloc"), (), "tracemalloc", id="tracing-already"),
    ],
)
def test_heap_probe_finds_a_4_byte_leak_with_either_engine(
    pytester: pytest.Pytester,
    python_flags: tuple[str, ...],
    pytest_args: tuple[str, ...],
    engine: str,
) -> None:
    pytester.makepyfile(no_counter=NO_COUNTER, test_slow=SLOW_LEAK)
    result = pytester.run(
        sys.executable,
        *python_flags,
        "-m",
        "pytest",
        "-p",
        "no:randomly",
        *pytest_args,
        "--leakguard",
        "--leakguard-json=report.json",
        "--rootdir",
        str(pytester.path),
    )
    report = json.loads((pytester.path / "report.json").read_text())
    entries = {e["nodeid"]: e for e in report["tests"]}
    result.stdout.fnmatch_lines(
        [f"leakguard: *probes blocks, objects, heap ({engine}), malloc (*), rss*"]
    )
    slow = entries["test_slow.py::test_slow"]
    assert slow["verdict"] == "leak", slow
    assert slow["trend"]["blocks"] == "flat", slow
    assert slow["trend"]["heap"] == "growing", slow
    assert slow["growth_per_run"]["heap"] == pytest.approx(4, abs=1), slow
    assert entries["test_slow.py::test_clean"]["verdict"] == "clean"


SUBINTERPRETERS = """
import json, sys, threading
try:
    import _interpreters as interpreters
except ImportError:
    import _xxsubinterpreters as interpreters
from pytest_leakguard import _alloccount

WORK = "x = [str(n) * 3 for n in range(20000)]\\ndel x\\n"

def run_in_subinterpreters(count):
    ids = [interpreters.create() for _ in range(count)]  # own GIL: the default
    threads = [
        threading.Thread(target=interpreters.run_string, args=(i, WORK * 20)) for i in ids
    ]
    for t in threads:
        t.start()
    keep = []
    for n in range(20000):
        keep.append(str(n) * 3)
    for t in threads:
        t.join()
    for i in ids:
        interpreters.destroy(i)

def reading():
    try:
        return ["ok", _alloccount.current()]
    except Exception as exc:
        return [type(exc).__name__, str(exc)]

_alloccount.start()
run_in_subinterpreters(2)
refused = reading()
_alloccount.start()  # counting again once they are gone
again = reading()
print(json.dumps({"refused": refused, "again": again}))
"""


@pytest.mark.skipif(sys.version_info < (3, 12), reason="own-GIL subinterpreters: 3.12+")
@needs_counter
def test_the_counter_refuses_to_count_beside_subinterpreters() -> None:
    """Subinterpreters with their own GIL allocate concurrently: the counter ignores their
    allocations (no data race on its table) and says it cannot count, until restarted."""
    result = run_python(SUBINTERPRETERS)
    kind, message = result["refused"]
    assert kind == "RuntimeError", result
    assert "subinterpreter" in message, result
    assert "-X tracemalloc" in message, result
    kind, value = result["again"]
    assert kind == "ok", result
    assert 0 <= value < 1 << 30, result


OVERFLOW = """
import json, resource
from pytest_leakguard.probes import memory

probe = memory.HeapProbe()
probe.start()
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
# Little room left: the table (16 bytes a slot, 2 to 4 slots a block) cannot grow
# long before the objects (16 bytes each) fill it.
resource.setrlimit(resource.RLIMIT_AS, (size + (256 << 20), hard))
keep = []
refused = None
try:
    while refused is None:
        keep.extend(object() for _ in range(100000))
        try:
            probe.sample()
        except MemoryError as exc:
            refused = str(exc)
finally:
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
del keep
probe.start()  # the next test's
print(json.dumps({"refused": refused, "again": probe.sample()}))
"""


@needs_counter
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm, RLIMIT_AS")
def test_a_counter_whose_table_could_not_grow_counts_again_for_the_next_test() -> None:
    result = run_python(OVERFLOW)
    assert "could not grow" in result["refused"], result
    assert 0 <= result["again"] < 1 << 20, result


THREADS = """
import gc, json, threading
from array import array
from pytest_leakguard import _alloccount

stop = threading.Event()
handed = []


def churn():  # a background thread started before the test: a session fixture's
    # It calls no Python function the test's thread calls: before 3.11 a function's frame
    # is recycled by whichever thread calls it next (see docs/how-it-works.md).
    keep = [None] * 64
    n = 0
    while not stop.is_set():
        keep[n % 64] = bytes(16 + n % 2000)
        n += 1
        if handed:
            handed.pop()  # the test's block, freed here


background = threading.Thread(target=churn)
background.start()
_alloccount.start()
_alloccount.focus()
kept = [None] * 40  # allocated once, and the readings kept in an array: the steps below
readings = array("q", [0] * 24)  # are the bytes objects alone


def read(i):
    gc.collect()
    readings[i] = _alloccount.current()


warm = threading.Thread(target=len, args=((),))  # the first thread's frames are kept
warm.start()
warm.join()
del warm
read(0)
for i in range(20):
    kept[i] = bytes(2048)
    stop.wait(0.002)  # the background thread churns meanwhile
    read(i + 1)

worker_kept = [None]
worker = threading.Thread(target=lambda: worker_kept.__setitem__(0, bytes(5000)))
worker.start()
worker.join()
del worker
read(21)

given = bytes(4096)
handed.append(None)  # the list's array, allocated here before the reading
handed.pop()
read(22)
handed.append(given)
del given
while handed:
    stop.wait(0.001)
read(23)
stop.set()
background.join()
steps = [b - a for a, b in zip(readings, readings[1:])]
print(json.dumps({"steps": steps[:20], "by_worker": steps[20], "freed_elsewhere": steps[22]}))
"""


@needs_counter
def test_the_focused_counter_counts_the_tests_threads_and_nothing_else() -> None:
    """A thread that ran before focus() churns unseen; one started after counts; a block
    the test allocated and another thread freed is subtracted."""
    result = run_python(THREADS)
    bytes_2048 = sys.getsizeof(bytes(2048))
    # Exact from the second step on (the first run of the loop allocates for good).
    assert result["steps"][1:] == [bytes_2048] * 19, result
    # The worker's bytes, and what the threading module keeps of a finished thread (its
    # lists and dicts may grow a step): not the background thread's KiB.
    assert sys.getsizeof(bytes(5000)) <= result["by_worker"] < 2 * sys.getsizeof(bytes(5000))
    assert result["freed_elsewhere"] == -sys.getsizeof(bytes(4096)), result


TABLE = """
import json, sys
from array import array
from pytest_leakguard import _alloccount

_alloccount.start()
kept = [None] * 800_000
slots = array("q", [0] * 5000)  # allocated beforehand, like kept: the counts are exact
start_blocks, start_bytes = _alloccount.blocks(), _alloccount.current()


def one_test(n):
    _alloccount.compact()
    _alloccount.focus()
    before = _alloccount.current()
    for i in range(150):  # what a session keeps per test (its reports)
        kept[n * 150 + i] = object()
    transient = [str(i) for i in range(2000)]
    del transient
    grown = _alloccount.current() - before
    expected = 150 * sys.getsizeof(object()) + sys.getsizeof(before)  # and "before" itself
    # Exact, across compact() too, after the first test and 1,024 calls (from which on
    # Python 3.9 and 3.10 give the function its inline caches).
    assert n in (0, 1023) or grown == expected, (n, grown)
    slots[n] = _alloccount.table_slots()


for n in range(5000):
    one_test(n)
kept_blocks = _alloccount.blocks() - start_blocks
peak = [object() for _ in range(1_000_000)]
at_peak = _alloccount.table_slots()
del peak
_alloccount.compact()
print(json.dumps({
    "first": max(slots[:2500]), "second": max(slots[2500:]), "kept_blocks": kept_blocks,
    "at_peak": at_peak, "after_peak": _alloccount.table_slots(),
    "bytes": _alloccount.current() - start_bytes,
}))
"""


@needs_counter
def test_the_counters_table_is_sized_by_live_blocks_not_by_tests_run() -> None:
    """A session keeps blocks per test (750,000 here): the table stops growing, the counts
    stay exact, and a table left sparse by a peak shrinks back."""
    result = run_python(TABLE)
    kept_bytes = 5000 * 150 * sys.getsizeof(object())
    # And the script's few globals and its function, made after the first reading.
    assert 5000 * 150 <= result["kept_blocks"] < 5000 * 150 + 32, result
    assert kept_bytes <= result["bytes"] < kept_bytes + 4096, result
    assert result["second"] <= result["first"] < 5000 * 150, result
    assert result["at_peak"] >= 2_000_000, result
    assert result["after_peak"] <= result["first"], result
