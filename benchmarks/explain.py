"""What explaining one leaking test costs: deep probes, graphs, memray.

Generates a one-file suite in a temporary directory with two leaking tests:

* ``test_python_leak``: a module-level list keeps one object per run (the
  Python heap grows: tracemalloc, types, holders, chain, pympler sizes);
* ``test_native_leak``: the C library of tests/test_native.py, built here with
  ``cc -g``, keeps 1 MiB from ``malloc`` per run (only RSS grows: memray runs
  automatically).

Each test is run alone (``-k``) in subprocesses of this interpreter, in each
configuration, interleaved, ``--reps`` times:

* ``detect``: ``--leakguard --leakguard-explain=no`` (the verdict only);
* ``explain``: ``--leakguard`` (the default deep probes);
* ``graph``: ``--leakguard --leakguard-graph-dir=graphs`` (and SVG if ``dot`` is on PATH);
* ``native``: ``--leakguard --leakguard-native`` (memray too, for the Python leak).

It prints the median wall-clock time of each run, the difference with
``detect`` (what the explanation adds to the session), and the explanation's
own ``seconds`` and ``cpu_seconds`` fields from the JSON report (the deep probes' 3 runs and
observations; memray's 3 runs, tracking and reading).  ``--heap N`` adds the
``conftest.py`` of ``run.py`` that keeps N gc-tracked objects alive;
``--source DIR`` measures the ``pytest_leakguard`` package in DIR (for example
an older commit's, from ``git archive``) instead of the installed one.

Usage::

    python benchmarks/explain.py [--reps N] [--heap N] [--source DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import HEAP_CONFTEST

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_native import compile_library

SUITE = """\
import ctypes
import os

LIB = ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libleaky.so"))
LIB.leak.argtypes = [ctypes.c_size_t]
ORDERS = []


class Order:
    def __init__(self, number):
        self.number = number


def test_python_leak():
    ORDERS.append(Order(len(ORDERS)))


def test_native_leak():
    LIB.leak(1 << 20)
"""

CONFIGS: dict[str, list[str]] = {
    "detect": ["--leakguard-explain=no"],
    "explain": [],
    "graph": ["--leakguard-graph-dir=graphs"],
    "native": ["--leakguard-native"],
}
RUNS: list[tuple[str, str]] = [  # (test, configuration): detect first, the base of each test
    ("python", "detect"),
    ("python", "explain"),
    ("python", "graph"),
    ("python", "native"),
    ("native", "detect"),
    ("native", "explain"),
]


def build(root: Path, heap: int) -> None:
    """Write the suite and compile its C library into ``root``."""
    if not compile_library(root):
        sys.exit("a C compiler (cc, gcc or clang) is needed for the native leak")
    (root / "test_leaks.py").write_text(SUITE)
    if heap:
        (root / "conftest.py").write_text(HEAP_CONFTEST.format(heap=heap))


def run_once(root: Path, test: str, config: str, source: str | None) -> dict[str, Any]:
    """One pytest run of one test; its wall time and the explanation's own timings."""
    report = root / "report.json"
    report.unlink(missing_ok=True)
    options = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-o", "addopts=", "--leakguard"]
    command = [sys.executable, "-m", "pytest", *options, f"--leakguard-json={report}"]
    command += [*CONFIGS[config], "-k", test, "test_leaks.py"]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - started
    tests = json.loads(report.read_text())["tests"] if report.exists() else []
    if result.returncode != 1 or len(tests) != 1 or tests[0]["verdict"] != "leak":
        sys.exit(f"{test}/{config}: expected one leak\n{result.stdout}\n{result.stderr}")
    explanation = tests[0]["explanation"] or {}
    native = explanation.get("native") or {}
    return {
        "wall": wall,
        "deep": explanation.get("seconds"),
        "cpu": explanation.get("cpu_seconds"),
        "memray": native.get("seconds"),
    }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--heap", type=int, default=0, help="gc-tracked objects kept alive")
    parser.add_argument("--source", help="directory holding the pytest_leakguard to measure")
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help="comma-separated configurations to run (detect is always run)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the suite's directory")
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="leakguard-explain-bench-"))
    build(root, options.heap)
    wanted = {"detect", *options.configs.split(",")}
    runs = [(test, config) for test, config in RUNS if config in wanted]
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in runs}
    for _ in range(options.reps):
        for test, config in runs:
            samples[(test, config)].append(run_once(root, test, config, options.source))
    print(
        f"python {sys.version.split()[0]}, {options.reps} rounds, heap {options.heap:,} objects,"
        f" package {options.source or 'installed'}"
    )
    print("| leaking test | configuration | wall s | added s | deep probes s | CPU s | memray s |")
    print("|---|---|---|---|---|---|---|")
    for test, config in runs:
        rows = samples[(test, config)]
        wall = _median([row["wall"] for row in rows]) or 0.0
        base = _median([row["wall"] for row in samples[(test, "detect")]]) or 0.0
        deep = _median([row["deep"] for row in rows])
        memray = _median([row["memray"] for row in rows])
        cpu = _median([row["cpu"] for row in rows])
        print(
            f"| {test} | {config} | {wall:.2f} | {wall - base:+.2f} | "
            f"{'-' if deep is None else f'{deep:.2f}'} | "
            f"{'-' if cpu is None else f'{cpu:.2f}'} | "
            f"{'-' if memray is None else f'{memray:.2f}'} |"
        )
    if options.keep:
        print(f"suite kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
