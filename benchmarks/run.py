"""Speed benchmark for pytest-leakguard.

Generates two throw-away test suites in a temporary directory and times pytest
on each, in subprocesses that use this interpreter:

* ``small-heap``: about 300 small, ordinary tests (pure-Python computations,
  dict and list work, function-scoped fixtures, parametrized tests, tests that
  print or log);
* ``large-heap``: the same tests plus a ``conftest.py`` that builds a live heap
  of more than a million gc-tracked objects at import time and keeps it for the
  whole session;
* ``busy-tests``: 100 tests of about 5 ms of compute each (SHA-256 in a loop,
  nothing kept): a suite whose time is in its tests, not in pytest's per-test
  work, so the ratio is close to the executions per test.

Each suite is run in three configurations, ``-q -p no:cacheprovider`` plus:

* ``no plugin``: ``-p no:leakguard`` (the plugin not even loaded);
* ``idle``: nothing (the plugin installed, but not enabled);
* ``leakguard``: ``--leakguard`` (every passing test re-run and measured).

The repetitions are interleaved (one round runs every configuration once) and
the median wall-clock time of each configuration is reported.  The figures
that matter:

* ``ratio``: leakguard / idle (targets: <= 2.5 on small-heap, <= 3 on large-heap,
  <= 4 on busy-tests);
* ``added ms/test``: (leakguard - idle) / tests, which must not grow with the
  heap: gc.freeze() is meant to keep every collection and object count
  proportional to what the test allocated, not to what was alive before it;
* ``idle ms/test``: (idle - no plugin) / tests, the cost of an unused plugin.

Usage::

    python benchmarks/run.py [--quick] [--reps N] [--json PATH] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TESTS = 300
DEFAULT_HEAP = 1_200_000
DEFAULT_REPS = 5
QUICK_REPS = 2
TESTS_PER_MODULE = 30

TARGET_RATIO = {"small-heap": 2.5, "large-heap": 3.0, "busy-tests": 4.0}
BUSY_TESTS = 100
BUSY_ROUNDS = 2000
"""SHA-256 rounds of 1 KiB per busy test: about 5 ms on a 2020s CPU."""
CONFIGS: dict[str, list[str]] = {
    "no plugin": ["-p", "no:leakguard"],
    "idle": [],
    "leakguard": ["--leakguard"],
}
BASE_ARGS = ["-q", "-p", "no:cacheprovider"]

# --------------------------------------------------------------------------- suites

APP_MODULE = '''\
"""A small application under test: text, numbers, inventories, accounts."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict

log = logging.getLogger("app")


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\\x00\\x00"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return [i for i, flag in enumerate(sieve) if flag]


def word_counts(text: str) -> dict[str, int]:
    return dict(Counter(w.strip(".,;!?").lower() for w in text.split() if w.strip(".,;!?")))


def group_by_length(words: list[str]) -> dict[int, list[str]]:
    groups: dict[int, list[str]] = defaultdict(list)
    for word in words:
        groups[len(word)].append(word)
    return {k: sorted(v) for k, v in sorted(groups.items())}


def merge_inventories(*inventories: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for inventory in inventories:
        for item, count in inventory.items():
            total[item] = total.get(item, 0) + count
    return {k: v for k, v in total.items() if v > 0}


def flatten(nested: list) -> list:
    out: list = []
    stack = [iter(nested)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


def roundtrip(records: list[dict]) -> list[dict]:
    return json.loads(json.dumps(records, sort_keys=True))


def render_table(rows: list[tuple[str, int]]) -> str:
    width = max((len(name) for name, _ in rows), default=0)
    return "\\n".join(f"{name:<{width}} | {value:>6}" for name, value in rows)


def mode() -> str:
    return os.environ.get("APP_MODE", "default")


class Account:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = 0
        self.history: list[tuple[str, int]] = []
        self.closed = False

    def deposit(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount
        self.history.append(("deposit", amount))
        log.info("deposit %s %d", self.owner, amount)

    def withdraw(self, amount: int) -> None:
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.balance -= amount
        self.history.append(("withdraw", amount))

    def close(self) -> None:
        self.closed = True
'''

MODULE_HEADER = '''\
"""Generated benchmark tests ({name})."""

import io
import logging

import pytest

import app

log = logging.getLogger("tests")

TEXT = "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs! "


@pytest.fixture
def account():
    acct = app.Account("alice")
    acct.deposit(100)
    yield acct
    acct.close()


@pytest.fixture
def report_file():
    buffer = io.StringIO()
    yield buffer
    buffer.close()


@pytest.fixture
def inventory():
    return {{"apple": 3, "pear": 5, "plum": 0, "fig": 7}}
'''

# Each kind is (weight, template); ``{i}`` is a per-test number, ``{p}`` the
# number of cases of a parametrized test.  The weights give the mix of items.
COMPUTE = [
    """
def test_fib_{i}():
    assert app.fib({i} % 25 + 10) == app.fib({i} % 25 + 9) + app.fib({i} % 25 + 8)
""",
    """
def test_primes_{i}():
    found = app.primes(500 + {i})
    assert found[:5] == [2, 3, 5, 7, 11]
    assert all(n % 2 for n in found[1:])
""",
    """
def test_sorting_{i}():
    values = [(n * 7919 + {i}) % 1009 for n in range(400)]
    ordered = sorted(values)
    assert ordered == sorted(ordered, reverse=True)[::-1]
    assert min(values) == ordered[0]
""",
    """
def test_strings_{i}():
    words = [f"w{{n}}-{i}" for n in range(100)]
    joined = ",".join(words)
    assert joined.split(",") == words
    assert joined.upper().lower() == joined
""",
]
DATA = [
    """
def test_word_counts_{i}():
    counts = app.word_counts(TEXT * ({i} % 3 + 1))
    assert counts["the"] == 4 * ({i} % 3 + 1)
""",
    """
def test_group_{i}():
    groups = app.group_by_length(TEXT.replace(".", "").split() * 3)
    assert sum(len(v) for v in groups.values()) == 45
""",
    """
def test_merge_{i}(inventory):
    merged = app.merge_inventories(inventory, {{"apple": {i}, "kiwi": 1}})
    assert merged["apple"] == 3 + {i}
    assert "plum" not in merged
""",
    """
def test_flatten_{i}():
    nested = [[n, [n + 1, [n + 2]]] for n in range({i} % 20 + 5)]
    assert len(app.flatten(nested)) == 3 * ({i} % 20 + 5)
""",
    """
def test_roundtrip_{i}():
    records = [{{"id": n, "tags": ["a", "b"], "score": n / 3}} for n in range(50)]
    assert app.roundtrip(records) == records
""",
]
FIXTURE = [
    """
def test_account_{i}(account):
    account.deposit({i} + 1)
    account.withdraw(50)
    assert account.balance == 51 + {i}
    assert len(account.history) == 3
""",
    """
def test_env_{i}(monkeypatch):
    monkeypatch.setenv("APP_MODE", "mode-{i}")
    assert app.mode() == "mode-{i}"
""",
    """
def test_report_{i}(report_file):
    report_file.write(app.render_table([("a", {i}), ("bb", 2)]))
    assert report_file.getvalue().splitlines()[0].endswith("{i}")
""",
]
PARAMETRIZED = [
    """
@pytest.mark.parametrize("n", range({p}))
def test_fib_param_{i}(n):
    assert app.fib(n + 2) > app.fib(n)
""",
    """
@pytest.mark.parametrize(("amount", "expected"), [(k, 100 + k) for k in range(1, {p} + 1)])
def test_deposit_param_{i}(account, amount, expected):
    account.deposit(amount)
    assert account.balance == expected
""",
]
OUTPUT = [
    """
def test_print_{i}():
    rows = [(f"row{{n}}", n * {i}) for n in range(5)]
    print(app.render_table(rows))
    assert len(rows) == 5
""",
    """
def test_log_{i}(account):
    log.warning("checking account %d", {i})
    account.deposit(5)
    assert account.balance == 105
""",
    """
def test_capsys_{i}(capsys):
    print("value", {i})
    assert capsys.readouterr().out == "value {i}\\n"
""",
]
PARAM_CASES = 5
# (templates, items per template use, share of the items)
MIX: list[tuple[list[str], int, float]] = [
    (COMPUTE, 1, 0.33),
    (DATA, 1, 0.27),
    (FIXTURE, 1, 0.12),
    (PARAMETRIZED, PARAM_CASES, 0.16),
    (OUTPUT, 1, 0.12),
]

BUSY_MODULE = """\
import hashlib

import pytest


@pytest.mark.parametrize("seed", range({tests}))
def test_busy(seed):
    digest = seed.to_bytes(4, "little")
    for _ in range({rounds}):
        digest = hashlib.sha256(digest * 32).digest()
    assert len(digest) == 32
"""

HEAP_CONFTEST = '''\
"""Builds a large live heap at import time and keeps it for the whole session."""

HEAP_OBJECTS = {heap}


def _build(objects):
    # Each row is two gc-tracked objects: a dict holding a list.
    return [{{"id": n, "tags": [n % 7]}} for n in range(objects // 2)]


HEAP = _build(HEAP_OBJECTS)
'''


def test_bodies(count: int) -> list[str]:
    """About ``count`` test items' worth of test functions, in a stable mixed order."""
    plan: list[tuple[list[str], int]] = []
    for templates, size, share in MIX:
        plan.extend((templates, size) for _ in range(round(count * share / size)))
    # Interleave the kinds so every module gets a mix.
    order = sorted(range(len(plan)), key=lambda k: (k * 7919) % len(plan))
    plan = [plan[k] for k in order]
    bodies: list[str] = []
    counters: dict[int, int] = {}
    for templates, _size in plan:
        n = counters.get(id(templates), 0)
        counters[id(templates)] = n + 1
        template = templates[n % len(templates)]
        bodies.append(template.format(i=len(bodies), p=PARAM_CASES))
    return bodies


def write_busy_suite(root: Path) -> None:
    """Write the busy-tests suite: :data:`BUSY_TESTS` tests of :data:`BUSY_ROUNDS` hashes."""
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_busy.py").write_text(BUSY_MODULE.format(tests=BUSY_TESTS, rounds=BUSY_ROUNDS))


def write_suite(root: Path, tests: int, heap: int) -> None:
    """Write a suite of about ``tests`` items into ``root``; ``heap > 0`` adds the conftest."""
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "app.py").write_text(APP_MODULE)
    bodies = test_bodies(tests)
    for start in range(0, len(bodies), TESTS_PER_MODULE):
        name = f"test_gen_{start // TESTS_PER_MODULE:02d}"
        chunk = bodies[start : start + TESTS_PER_MODULE]
        text = MODULE_HEADER.format(name=name) + "".join("\n" + b for b in chunk)
        (root / f"{name}.py").write_text(text)
    if heap > 0:
        (root / "conftest.py").write_text(HEAP_CONFTEST.format(heap=heap))


# --------------------------------------------------------------------------- timing


@dataclass
class RunResult:
    """One configuration of one suite: every timing and what pytest said."""

    suite: str
    config: str
    args: list[str]
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    summary: str = ""
    returncode: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_times)


@dataclass
class Runner:
    """How the pytest subprocesses are started."""

    pycache: Path
    source: Path | None = None

    def env(self) -> dict[str, str]:
        """No options or plugins from outside; bytecode cached under ``pycache``."""
        env = dict(os.environ)
        for name in (
            "PYTEST_ADDOPTS",
            "PYTEST_PLUGINS",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
            "PYTHONDONTWRITEBYTECODE",
        ):
            env.pop(name, None)
        env["PYTHONHASHSEED"] = "0"
        # Compiled test modules (assertion rewriting included) are cached, as on a
        # developer's machine, but outside the suites and the package.
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        if self.source is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.source), env.get("PYTHONPATH", "")) if p
            )
        return env

    def run(self, suite_dir: Path, args: list[str]) -> tuple[float, float, str, int]:
        """Run pytest once: wall-clock and CPU seconds, its last output line, exit code."""
        command = [sys.executable, "-m", "pytest", *BASE_ARGS, *args]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            command, cwd=suite_dir, env=self.env(), capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        last = lines[-1].strip("= ") if lines else proc.stderr.strip()[-300:]
        if proc.returncode not in (0, 1):
            raise RuntimeError(
                f"pytest {' '.join(args)} in {suite_dir} exited {proc.returncode}:\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return elapsed, cpu, last, proc.returncode


def count_items(summary: str) -> int:
    """The number of tests in a pytest summary line like ``300 passed in 1.2s``."""
    return sum(
        int(n) for n, word in re.findall(r"(\d+) (\w+)", summary) if not word.startswith("warning")
    )


def heap_size(runner: Runner, suite_dir: Path) -> int:
    """How many gc-tracked objects are alive after importing the suite's conftest."""
    code = (
        "import gc, runpy, sys; g = runpy.run_path(sys.argv[1]); gc.collect();"
        " print(len(gc.get_objects()))"
    )
    conftest = suite_dir / "conftest.py"
    if not conftest.exists():
        code = "import gc; gc.collect(); print(len(gc.get_objects()))"
    out = subprocess.run(
        [sys.executable, "-c", code, str(conftest)],
        capture_output=True,
        text=True,
        check=True,
        env=runner.env(),
    )
    return int(out.stdout.strip())


def bench_suite(
    runner: Runner, suite: str, suite_dir: Path, reps: int, leakguard_args: list[str]
) -> dict[str, RunResult]:
    """Time every configuration on one suite, interleaved, after one untimed warm-up round."""
    results = {name: RunResult(suite, name, args) for name, args in CONFIGS.items()}
    results["leakguard"].args = [*results["leakguard"].args, *leakguard_args]
    for name, result in results.items():  # warm-up: bytecode caches, OS file cache
        _, _, result.summary, result.returncode = runner.run(suite_dir, result.args)
        print(f"  {suite:<10} {name:<10} warm-up: {result.summary}", flush=True)
    for rep in range(reps):
        for result in results.values():
            elapsed, cpu, summary, code = runner.run(suite_dir, result.args)
            result.times.append(elapsed)
            result.cpu_times.append(cpu)
            result.summary, result.returncode = summary, code
        line = "  ".join(f"{r.config} {r.times[-1]:.2f}s" for r in results.values())
        print(f"  {suite:<10} round {rep + 1}/{reps}: {line}", flush=True)
    return results


# --------------------------------------------------------------------------- report


def summarize(suite: str, results: dict[str, RunResult], heap_objects: int) -> dict[str, Any]:
    """The figures of one suite, as printed in the table and saved as JSON."""
    none, idle, guard = (results[n].median for n in ("no plugin", "idle", "leakguard"))
    cpu_idle, cpu_guard = (results[n].cpu_median for n in ("idle", "leakguard"))
    tests = count_items(results["idle"].summary)
    return {
        "suite": suite,
        "tests": tests,
        "heap_objects": heap_objects,
        "no_plugin_s": none,
        "idle_s": idle,
        "leakguard_s": guard,
        "ratio": guard / idle,
        "cpu_ratio": cpu_guard / cpu_idle,
        "target_ratio": TARGET_RATIO[suite],
        "added_ms_per_test": (guard - idle) / tests * 1000,
        "added_cpu_ms_per_test": (cpu_guard - cpu_idle) / tests * 1000,
        "idle_overhead_ms_per_test": (idle - none) / tests * 1000,
        "leakguard_summary": results["leakguard"].summary,
        "leakguard_returncode": results["leakguard"].returncode,
        "runs": {name: asdict(r) for name, r in results.items()},
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    """The results table, then whether each target was met."""
    header = (
        f"{'suite':<11} {'tests':>5} {'gc objects':>10} {'no plugin s':>11} {'plain s':>8}"
        f" {'leakguard s':>11} {'ratio':>6} {'cpu ratio':>9} {'added ms/test':>13}"
        f" {'idle ms/test':>12}"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['suite']:<11} {row['tests']:>5} {row['heap_objects']:>10,}"
            f" {row['no_plugin_s']:>11.2f} {row['idle_s']:>8.2f} {row['leakguard_s']:>11.2f}"
            f" {row['ratio']:>6.2f} {row['cpu_ratio']:>9.2f} {row['added_ms_per_test']:>13.2f}"
            f" {row['idle_overhead_ms_per_test']:>12.3f}"
        )
    print()
    for row in rows:
        ok = row["ratio"] <= row["target_ratio"]
        print(
            f"{row['suite']}: ratio {row['ratio']:.2f} (target <= {row['target_ratio']})"
            f" {'met' if ok else 'MISSED'}; --leakguard said: {row['leakguard_summary']}"
        )
    by_name = {row["suite"]: row for row in rows}
    if "small-heap" in by_name and "large-heap" in by_name:
        small, large = by_name["small-heap"], by_name["large-heap"]
        growth = large["added_ms_per_test"] / small["added_ms_per_test"]
        print(
            f"added cost per test, large heap / small heap: {growth:.2f}x"
            " (1.0 means it does not grow with the heap)"
        )


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import pytest

    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "pytest": pytest.__version__,
        "load_average": os.getloadavg(),
    }


def suite_names(text: str) -> list[str]:
    """``--suites``: known suite names, comma-separated."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(TARGET_RATIO))
    if unknown or not names:
        given = ", ".join(unknown) if unknown else repr(text)
        choices = ", ".join(TARGET_RATIO)
        raise argparse.ArgumentTypeError(f"unknown suite(s) {given}; choose from {choices}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time pytest with and without --leakguard on generated suites."
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_REPS} repetitions instead of {DEFAULT_REPS}"
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions per configuration")
    parser.add_argument(
        "--tests", type=int, default=DEFAULT_TESTS, help="test items per suite (about)"
    )
    parser.add_argument(
        "--heap", type=int, default=DEFAULT_HEAP, help="gc-tracked objects in the large heap"
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="benchmark the pytest_leakguard package found in this directory (put first on"
        " PYTHONPATH) instead of the installed one, e.g. an exported commit",
    )
    parser.add_argument(
        "--leakguard-args",
        default="",
        metavar="ARGS",
        help="extra options for the --leakguard runs; give them after '=' as they start"
        " with '--': --leakguard-args='--leakguard-probes=blocks,rss --leakguard-warmup=1'",
    )
    parser.add_argument(
        "--suites",
        type=suite_names,
        default=list(TARGET_RATIO),
        help=f"comma-separated suites to run (default: {','.join(TARGET_RATIO)})",
    )
    parser.add_argument("--json", metavar="PATH", type=Path, help="save the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the generated suites")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reps = args.reps or (QUICK_REPS if args.quick else DEFAULT_REPS)
    leakguard_args = shlex.split(args.leakguard_args)

    info = machine()
    print(
        f"python {info['python']} ({info['implementation']}), pytest {info['pytest']},"
        f" nproc {info['nproc']}, load average {info['load_average'][0]:.2f},"
        f" {reps} repetitions",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="leakguard-bench-"))
    runner = Runner(pycache=workdir / "pycache", source=args.source)
    rows: list[dict[str, Any]] = []
    try:
        suites = {"small-heap": 0, "large-heap": args.heap, "busy-tests": 0}
        wanted = args.suites
        for suite in wanted:
            suite_dir = workdir / suite
            if suite == "busy-tests":
                write_busy_suite(suite_dir)
            else:
                write_suite(suite_dir, args.tests, suites[suite])
            objects = heap_size(runner, suite_dir)
            print(f"{suite}: {suite_dir} ({objects:,} gc-tracked objects at start)", flush=True)
            results = bench_suite(runner, suite, suite_dir, reps, leakguard_args)
            rows.append(summarize(suite, results, objects))
    finally:
        if args.keep:
            print(f"suites kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print_table(rows)
    if args.json:
        payload = {
            "machine": info,
            "reps": reps,
            "source": str(args.source) if args.source else "installed",
            "leakguard_args": leakguard_args,
            "suites": rows,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"results saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
