"""Memory kept per checked test, and JSON report bytes per test (issue #15).

Generates ``--tests`` clean tests in a temporary directory and runs pytest on
them in subprocesses, with and without ``--leakguard``, without xdist and with
``-n 2``.  A small plugin (written next to the tests) starts ``tracemalloc``
when pytest is configured and measures the Python memory alive (after a full
collection) when the test loop starts and when it ends, in every process: the
controller and each xdist worker.  What a process kept per test is the
difference divided by the tests it ran (or, on the controller, received).

Printed per package (``--source DIR`` adds another one, for example the main
branch's, measured in the same run, interleaved):

* ``kept/test``: bytes kept per test, plain pytest and ``--leakguard``, and the
  difference, which is what checking a test costs in memory (target <= 1 KiB,
  on the controller and on each worker);
* ``json/test``: the ``--leakguard-json`` report's bytes per clean test
  (target < 300).

``tracemalloc`` is on in every run, so the heap probe counts with it there: the
figures compare what is kept, not the speed.

Usage::

    python benchmarks/memory.py [--tests N] [--source DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_TESTS = 2000
TESTS_PER_MODULE = 50

PLUGIN = '''\
"""Measures the Python memory alive when the test loop starts and when it ends."""

import gc
import json
import os
import tracemalloc

import pytest

_START = []


def _alive():
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def pytest_configure(config):
    if not tracemalloc.is_tracing():
        tracemalloc.start()


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    start = _alive()
    try:
        return (yield)
    finally:
        end = _alive()
        worker = os.environ.get("PYTEST_XDIST_WORKER", "controller")
        tests = session.testscollected if worker != "controller" else None
        out = os.path.join(os.environ["LEAKGUARD_MEMORY_OUT"], worker + ".json")
        with open(out, "w") as stream:
            json.dump({"start": start, "end": end, "tests": tests}, stream)
'''

TEST_MODULE = """\
import pytest


@pytest.mark.parametrize("n", range({count}))
def test_sums_a_range(n):
    assert sum(range(n)) == n * (n - 1) // 2
"""


def make_suite(directory: Path, tests: int) -> None:
    """``tests`` clean tests in modules of :data:`TESTS_PER_MODULE`, and the plugin."""
    directory.mkdir(parents=True)
    (directory / "memory_probe.py").write_text(PLUGIN)
    left, index = tests, 0
    while left > 0:
        count = min(left, TESTS_PER_MODULE)
        (directory / f"test_module_{index:03d}.py").write_text(TEST_MODULE.format(count=count))
        left -= count
        index += 1


def run(suite: Path, source: str | None, leakguard: bool, xdist: bool, out: Path) -> dict[str, Any]:
    """One pytest run; what each of its processes kept, and the JSON report's size."""
    out.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONTRACE"))}
    env["LEAKGUARD_MEMORY_OUT"] = str(out)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, str(suite)) if p)
    report = out / "report.json"
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "memory_probe"]
    args += ["-n", "2"] if xdist else ["-p", "no:xdist"]
    if leakguard:
        args += ["--leakguard", f"--leakguard-json={report}"]
    else:
        args += ["-p", "no:leakguard"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"pytest {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}"
        )
    measured: dict[str, Any] = {}
    for path in sorted(out.glob("*.json")):
        if path.name == "report.json":
            continue
        data = json.loads(path.read_text())
        measured[path.stem] = data
    result: dict[str, Any] = {"processes": measured}
    if report.exists():
        result["json_bytes"] = report.stat().st_size
        result["tests_in_report"] = len(json.loads(report.read_text())["tests"])
    return result


def per_test(processes: dict[str, Any], total: int) -> dict[str, float]:
    """Bytes kept per test: on the controller (all tests) and on a worker (the median)."""
    kept: dict[str, float] = {}
    workers = []
    for name, data in processes.items():
        tests = data["tests"] or total
        value = (data["end"] - data["start"]) / tests
        if name == "controller":
            kept["controller"] = value
        else:
            workers.append(value)
    if workers:
        kept["worker"] = statistics.median(workers)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=DEFAULT_TESTS)
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        help="a directory with another pytest_leakguard package, measured beside the installed one",
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="leakguard-memory-"))
    suite = work / "suite"
    make_suite(suite, args.tests)
    packages: list[str | None] = [*args.source, None]
    figures: dict[str, Any] = {}
    for mode, xdist in (("serial", False), ("xdist -n 2", True)):
        for index, source in enumerate(packages):
            name = source or "installed"
            for leakguard in (False, True):
                label = f"{index}-{mode}-{'leakguard' if leakguard else 'plain'}".replace(" ", "")
                found = run(suite, source, leakguard, xdist, work / label)
                entry = figures.setdefault(name, {}).setdefault(mode, {})
                entry["leakguard" if leakguard else "plain"] = {
                    "kept_per_test": per_test(found["processes"], args.tests),
                    **{k: v for k, v in found.items() if k != "processes"},
                }
    print_table(figures, args.tests)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def print_table(figures: dict[str, Any], tests: int) -> None:
    """One line per package, mode and process: bytes kept per test, plain and checked."""
    print(f"{tests} clean tests; bytes kept per test (Python heap, tracemalloc)")
    print(
        f"{'package':<40} {'mode':<11} {'process':<10} {'plain':>8} {'leakguard':>10} {'added':>8}"
    )
    for name, modes in figures.items():
        for mode, entry in modes.items():
            plain, checked = entry["plain"]["kept_per_test"], entry["leakguard"]["kept_per_test"]
            for process in checked:
                added = checked[process] - plain.get(process, 0.0)
                print(
                    f"{name[-40:]:<40} {mode:<11} {process:<10} {plain.get(process, 0.0):8.0f}"
                    f" {checked[process]:10.0f} {added:8.0f}"
                )
            if "json_bytes" in entry["leakguard"]:
                size = entry["leakguard"]["json_bytes"] / entry["leakguard"]["tests_in_report"]
                print(f"{name[-40:]:<40} {mode:<11} {'json/test':<10} {'':8} {size:10.0f}")


if __name__ == "__main__":
    main()
