"""Native leaks: memray names the C function and the Python line that calls it.

The end-to-end tests build a tiny C library with the compiler found on PATH
and load it with ctypes; they skip when memray or a C compiler is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import COUNTER_BUILT, LeakRun, SharedRuns

from pytest_leakguard.native import native_lines, native_sites, rss_only, unavailable
from pytest_leakguard.result import ProbeTrend

LEAKY_C = """\
#include <stdlib.h>
#include <string.h>

static void *kept[4096];
static int count = 0;

void leak(size_t n) {
    void *block = malloc(n);
    memset(block, 1, n); /* touch the pages: RSS grows */
    kept[count++ % 4096] = block;
}
"""
LEAK_LINE = 8  # the malloc line of leaky.c

TESTS = """\
import ctypes
import os

LIB = ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libleaky.so"))
LIB.leak.argtypes = [ctypes.c_size_t]
LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
ORDERS = []


def called(name):
    with open("calls.txt", "a") as stream:
        stream.write(name + "\\n")


def test_c_library():
    called("c_library")
    LIB.leak(1 << 20)


def test_ctypes_malloc():
    called("ctypes_malloc")
    block = LIBC.malloc(1 << 20)
    ctypes.memset(block, 1, 1 << 20)


def test_python_heap():
    called("python_heap")
    ORDERS.append(bytearray(2000))


def test_clean():
    called("clean")
    bytearray(1 << 20)
"""
C_CALL_LINE = 19  # LIB.leak(1 << 20) in TESTS

HIDE_MEMRAY = """\
import sys

sys.modules["memray"] = None  # as if memray were not installed
"""

needs_memray = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


def compile_library(directory: Path) -> bool:
    """Write ``leaky.c`` and build ``libleaky.so`` (with debug information) in ``directory``.

    ``False`` when there is no C compiler.  benchmarks/explain.py uses it too.
    """
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return False
    (directory / "leaky.c").write_text(LEAKY_C)
    subprocess.run(
        [compiler, "-g", "-O0", "-shared", "-fPIC", "-o", "libleaky.so", "leaky.c"],
        cwd=directory,
        check=True,
    )
    return True


def _build_library(directory: Path) -> None:
    if not compile_library(directory):
        pytest.skip("no C compiler on PATH")


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> SharedRuns:
    """The runs of the generated files, each made once."""
    return SharedRuns.for_session(tmp_path_factory)


def _session(
    pytester: pytest.Pytester, shared_runs: SharedRuns, name: str, *args: str
) -> tuple[LeakRun, str]:
    """The run of ``TESTS`` as ``name.py`` with ``args``, and its node id prefix."""
    _build_library(pytester.path)
    # with the full form of clean tests: their explanation (none) is checked
    run = shared_runs.get(pytester, name, TESTS, "--leakguard-clean-details", *args)
    return run, f"{name}.py::"


@pytest.fixture
def native_run(pytester: pytest.Pytester, shared_runs: SharedRuns) -> tuple[LeakRun, str]:
    """The four tests in one subprocess, with memray available and no flag."""
    return _session(pytester, shared_runs, "test_native_leaks")


def _rss_leak(native_run: tuple[LeakRun, str], name: str) -> tuple[dict[str, Any], str]:
    """A test's report entry, checked to be a leak seen by RSS, and the run's output."""
    run, node = native_run
    entry = run.entry(node + name)
    assert entry["verdict"] == "leak", run.output()
    assert entry["trend"]["rss"] == "growing"
    return entry, run.output()


@needs_memray
def test_names_the_c_function_and_the_python_caller(native_run: tuple[LeakRun, str]) -> None:
    entry, output = _rss_leak(native_run, "test_c_library")
    native = entry["explanation"]["native"]
    top = native["sites"][0]
    assert top["function"] == "leak"
    assert top["file"] == "leaky.c"
    assert top["line"] == LEAK_LINE
    assert top["python"] == (
        f"test_native_leaks.py:{C_CALL_LINE} in test_c_library: LIB.leak(1 << 20)"
    )
    # One MiB per run, one allocation per run, over the 3 tracked runs.
    assert top["size_per_run"] == 1 << 20
    assert top["count_per_run"] == 1
    assert native["runs"] == 3
    assert top["native_stack"][0] == f"leaky.c:{LEAK_LINE} in leak"
    message = entry["message"]
    assert "native allocations left by 3 more runs (memray, per run):" in message
    assert f"leak at leaky.c:{LEAK_LINE}: +1.0 MiB/run, +1 allocations/run" in message
    assert f"called from test_native_leaks.py:{C_CALL_LINE} in test_c_library" in message
    # Printed in the terminal too.
    assert f"leak at leaky.c:{LEAK_LINE}" in output


@needs_memray
def test_malloc_through_dlsym_is_reported_honestly(native_run: tuple[LeakRun, str]) -> None:
    entry, _ = _rss_leak(native_run, "test_ctypes_malloc")
    native = entry["explanation"]["native"]
    # memray's hooks do not see malloc called through ctypes.CDLL(None).malloc.
    assert native["sites"] == []
    assert "memray saw no allocation of your code left over" in entry["message"]
    assert "ctypes.CDLL(None).malloc" in entry["message"]


@needs_memray
def test_python_heap_leak_is_not_tracked_natively(native_run: tuple[LeakRun, str]) -> None:
    run, node = native_run
    entry = run.entry(node + "test_python_heap")
    assert entry["verdict"] == "leak", run.output()
    assert "native" not in entry["explanation"]
    # Normal run, warm-up, measured runs, with tracemalloc counting the heap the control
    # with tracing off (blocks grew: runs + 1), 2 + 3 explanation runs: no memray runs.
    control = 0 if COUNTER_BUILT else run.report["settings"]["runs"] + 1
    assert run.calls()["python_heap"] == 1 + entry["warmup"] + entry["runs"] + control + 2 + 3


@needs_memray
def test_clean_tests_never_run_deep_probes(native_run: tuple[LeakRun, str]) -> None:
    run, node = native_run
    entry = run.entry(node + "test_clean")
    assert entry["verdict"] == "clean", run.output()
    assert entry["explanation"] is None
    assert run.calls()["clean"] == 1 + entry["warmup"] + entry["runs"]
    # A native leak runs 2 + 3 deep-probe runs and 3 memray runs more.
    leak = run.entry(node + "test_c_library")
    assert run.calls()["c_library"] == 1 + leak["warmup"] + leak["runs"] + 2 + 3 + 3


@needs_memray
def test_flag_tracks_python_heap_leaks_too(
    pytester: pytest.Pytester, shared_runs: SharedRuns
) -> None:
    run, node = _session(
        pytester,
        shared_runs,
        "test_native_flag",
        "--leakguard-native",
        "--leakguard-explain=no",
        "-k",
        "python or clean",
    )
    entry = run.entry(node + "test_python_heap")
    assert entry["verdict"] == "leak", run.output()
    # Asked for, native tracking runs even without the other deep probes.
    assert set(entry["explanation"]) == {"native"}
    assert entry["explanation"]["native"]["runs"] == 3
    # With tracemalloc counting the heap, a control run with it off (blocks grew).
    control = 0 if COUNTER_BUILT else run.report["settings"]["runs"] + 1
    assert run.calls()["python_heap"] == 1 + entry["warmup"] + entry["runs"] + control + 3
    assert "native allocations left by 3 more runs" in entry["message"]
    assert "what grows is Python objects" in entry["message"]
    # Asked for, still only for a leak.
    clean = run.entry(node + "test_clean")
    assert clean["verdict"] == "clean"
    assert clean["explanation"] is None
    assert run.calls()["clean"] == 1 + clean["warmup"] + clean["runs"]


def test_without_memray_the_explanation_says_what_to_install(
    pytester: pytest.Pytester, shared_runs: SharedRuns
) -> None:
    pytester.makeconftest(HIDE_MEMRAY)
    run, node = _session(pytester, shared_runs, "test_native_hidden", "-k", "c_library")
    entry = run.entry(node + "test_c_library")
    assert entry["verdict"] == "leak", run.output()
    assert entry["explanation"]["native"]["sites"] == []
    assert "note: native frames not named: memray is not installed" in entry["message"]
    assert "pip install pytest-leakguard[memray]" in entry["message"]
    # Nothing to track with: no memray runs (2 + 3 runs of the Python deep probes).
    assert run.calls()["c_library"] == 1 + entry["warmup"] + entry["runs"] + 2 + 3


@pytest.mark.parametrize(
    ("args", "ini", "source"),
    [
        (["--leakguard-native"], "", "from the command line or ini file"),
        ([], "leakguard_native = true", "from the command line or ini file"),
        (["-k", "marked"], "", "from native= of marker leakguard on test_marked.py::test_marked"),
    ],
    ids=["flag", "ini", "marker"],
)
def test_asking_without_memray_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], ini: str, source: str
) -> None:
    pytester.makeconftest(HIDE_MEMRAY)
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.leakguard(native=True)
        def test_marked():
            pass
        """
    )
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: leakguard: native frames were asked for ({source}) but memray is not"
            " installed; install it with: pip install pytest-leakguard[memray]"
        ]
    )


def test_native_false_in_marker_needs_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(HIDE_MEMRAY)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.leakguard(native=False, runs=1, warmup=0)
        def test_marked():
            pass
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


# Pure logic: grouping memray's records.

ROOT = "/src/app"
CALLER = ("test_codec", f"{ROOT}/tests/test_codec.py", 12)
PYTEST = ("pytest_pyfunc_call", "/venv/lib/python3.11/site-packages/_pytest/python.py", 187)
INTERPRETER = [
    ("ffi_call", "<unknown>", 0),
    ("_call_function_pointer", "/tmp/python-build/Python-3.11.7/Modules/_ctypes/callproc.c", 923),
    ("_PyObject_MakeTpCall", "Objects/call.c", 214),
]


def _record(
    size: int, count: int, native: list[Any], python: list[Any] | None = None
) -> tuple[int, int, list[Any], list[Any]]:
    return size, count, [CALLER, PYTEST] if python is None else python, native


def test_sites_grouped_by_native_frame_and_caller() -> None:
    encode = ("encode", f"{ROOT}/src/codec.c", 40)
    records = [
        # memray splits one site into records by the frames above it: merged again.
        _record(3000, 2, [encode, *INTERPRETER]),
        _record(1500, 1, [encode, ("<unknown>", "<unknown>", 0), *INTERPRETER]),
        _record(9000, 3, [("malloc", "<unknown>", 0), ("grow", "<unknown>", 0), *INTERPRETER]),
    ]
    sites = native_sites(records, ROOT, runs=3)
    assert [(s["function"], s["file"], s["line"]) for s in sites] == [
        ("grow", None, None),  # no debug information: the name only
        ("encode", "src/codec.c", 40),
    ]
    assert sites[1]["size_per_run"] == 1500
    assert sites[1]["count_per_run"] == 1
    assert sites[1]["python"] == "tests/test_codec.py:12 in test_codec"
    assert sites[1]["native_stack"][0] == "src/codec.c:40 in encode"


def test_sites_leave_out_the_interpreter_pytest_and_one_time_allocations() -> None:
    own = ("cache_init", f"{ROOT}/src/codec.c", 7)
    records = [
        _record(4096, 3, INTERPRETER),  # the interpreter's own: tracemalloc's part
        _record(4096, 3, [own, *INTERPRETER], python=[PYTEST]),  # under pytest only
        _record(65536, 1, [own, *INTERPRETER]),  # once in 3 runs: a cache
    ]
    assert native_sites(records, ROOT, runs=3) == []


def test_native_thread_allocations_are_kept() -> None:
    worker = ("worker_loop", f"{ROOT}/src/pool.c", 55)
    sites = native_sites([_record(300, 3, [worker], python=[])], ROOT, runs=3)
    assert sites[0]["function"] == "worker_loop"
    assert sites[0]["python"] is None


def test_native_lines_short_form() -> None:
    native = {
        "runs": 3,
        "seconds": 0.5,
        "notes": ["a note"],
        "sites": [
            {
                "function": f"f{i}",
                "file": "lib.c",
                "line": i,
                "python": "t.py:1 in test: call()",
                "size_per_run": 1024.0,
                "count_per_run": 1.0,
            }
            for i in range(5)
        ],
    }
    lines = native_lines(native)
    assert lines[0] == "native allocations left by 3 more runs (memray, per run):"
    assert lines[1] == "  f0 at lib.c:0: +1.0 KiB/run, +1 allocations/run"
    assert lines[2] == "      called from t.py:1 in test: call()"
    assert len(lines) == 1 + 3 * 2 + 1 + 1  # top 3 sites, each with its caller; the note; the cost
    assert lines[-2] == "note: a note"
    assert lines[-1] == "explained in 0.50 s (--leakguard-explain=no to skip)"


def _trend(probe: str, trend: str) -> ProbeTrend:
    return ProbeTrend(probe, "bytes", trend, 0.0, 0.0, 0, 5, 0.0)


@pytest.mark.parametrize(
    ("trends", "expected"),
    [
        ({"rss": "growing", "heap": "flat", "blocks": "flat"}, True),
        ({"rss": "growing", "heap": "noisy"}, True),
        ({"rss": "growing"}, True),
        ({"rss": "growing", "heap": "growing", "blocks": "flat"}, False),
        ({"rss": "growing", "heap": "flat", "blocks": "growing"}, False),
        ({"rss": "noisy", "heap": "flat"}, False),
        ({"heap": "growing"}, False),
        ({"malloc": "growing", "heap": "flat", "rss": "flat"}, True),
        ({"malloc": "growing", "heap": "growing"}, False),
        ({"malloc": "noisy", "heap": "flat"}, False),
    ],
)
def test_rss_only(trends: dict[str, str], expected: bool) -> None:
    assert rss_only([_trend(probe, trend) for probe, trend in trends.items()]) is expected


@needs_memray
def test_abort_stops_tracking(tmp_path: Path) -> None:
    from pytest_leakguard.native import NativeExplainer

    first = NativeExplainer(str(tmp_path))
    assert first.before()
    capture = first._directory
    assert capture is not None
    first.abort()
    assert not Path(capture).exists()
    # Nothing is left tracking: a new tracker starts, and reads an empty result.
    second = NativeExplainer(str(tmp_path))
    assert second.before()
    result = second.after(0)
    assert result["sites"] == []
    assert result["runs"] == 0
