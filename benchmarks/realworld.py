"""Run the test suites of well-known projects under ``--leakguard``: no false leaks allowed.

For each pinned project below, this script:

1. downloads its sdist with ``pip download --no-binary :all: --no-deps`` (the sdist
   ships the tests) and unpacks it;
2. makes a scratch venv with the project, its test dependencies and this plugin
   (``pip install -e`` of the repository this script belongs to, or ``--plugin``);
3. runs the suite, one project at a time, in the unpacked sdist: plain
   (``-p no:randomly -p no:cacheprovider``) and with ``--leakguard
   --leakguard-json=...``, timing both; with ``--repeat N``, N times alternately,
   keeping the best time of each (the machine is shared: one run is about ±30%);
4. reads the JSON report: every test flagged ``leak`` or ``inconclusive`` is a
   false positive unless it is listed in :data:`REAL_LEAKS` with the evidence
   (see docs/real-world.md).

It prints a Markdown table (the one in docs/real-world.md) and writes the
figures as JSON with ``--json``.

Usage::

    python benchmarks/realworld.py [--only six,idna] [--work DIR] [--json PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    """A pinned project whose sdist ships its pytest suite."""

    name: str
    version: str
    tests: tuple[str, ...]
    """Paths of the suite inside the unpacked sdist."""
    deps: tuple[str, ...] = ()
    """Test dependencies installed next to the project."""
    args: tuple[str, ...] = ()
    """Extra pytest arguments for both runs (a documented subset, for example)."""
    subset: str = ""
    """Why the suite is not run whole, for the table."""


PROJECTS = (
    Project("six", "1.17.0", ("test_six.py",)),
    Project(
        "idna",
        "3.20",
        ("tests",),
        deps=("hypothesis",),
        args=("--ignore", "tests/test_idna_uts46.py"),
        subset="all but test_idna_uts46.py (6,329 conformance cases)",
    ),
    Project("cachetools", "8.0.2", ("tests",)),
    Project("toolz", "1.2.0", ("toolz/tests",)),
    Project(
        "more-itertools",
        "11.2.1",
        ("tests",),
        args=tuple(
            arg
            for test in (
                "test_more.py::TestConcurrentTee::test_concurrent_consumers",
                "test_more.py::DiscreteFourierTransformTests::test_roundtrip",
                "test_more.py::ExtractTests::test_all_orderings",
                "test_more.py::TestRandomOrderedRange::test_lcg_mitigation",
                "test_recipes.py::PrimeFunctionTests::test_primes",
                "test_recipes.py::PrimeFunctionTests::test_nth_prime_approximate",
                "test_recipes.py::PrimeFunctionTests::test_nth_prime_tightened_bound",
                "test_recipes.py::PolynomialFromRootsTests::test_large",
            )
            for arg in ("--deselect", f"tests/{test}")
        ),
        subset="all but the 8 tests slower than 1 s (test_primes: 20 s a run)",
    ),
    Project(
        "packaging",
        "26.4",
        tuple(
            f"tests/test_{name}.py"
            for name in [
                "dependency_groups",
                "direct_url",
                "elffile",
                "errors",
                "licenses",
                "manylinux",
                "metadata",
                "musllinux",
                "pylock",
                "pylock_select",
                "tags",
                "tokenizer",
                "utils",
            ]
        ),
        deps=("pretend", "hypothesis", "tomli_w"),
        subset="13 of 18 files: not test_version, test_requirements, test_markers,"
        " test_specifiers, test_ranges (63,000 parametrized cases)",
    ),
    Project("boltons", "26.2.0", ("tests",)),
    Project(
        "python-dateutil",
        "4.0.0",
        ("tests",),
        deps=("hypothesis", "freezegun", "pytest-cov", "attrs"),
        args=("--ignore", "tests/test_tzfile.py", "--ignore", "tests/property"),
        subset="all but test_tzfile.py (2,916 cases) and the Hypothesis tests in tests/property",
    ),
)

REAL_LEAKS: dict[str, dict[str, str]] = {
    "toolz": {
        "toolz/tests/test_inspect_args.py::test_inspect_wrapped_property": (
            "the test registers a class it defines in the module-level dict"
            " toolz._signatures.signatures (`_sigs.signatures[Wrapped] = ...`) and never removes"
            " it: a new key every run (holder: module toolz._signatures . signatures, +1/run)"
        ),
    },
}
"""Flagged tests that really grow, per project: node id -> evidence (docs/real-world.md)."""

PYTEST_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider", "-q")
FLAGGED = ("leak", "inconclusive")
OUTCOMES = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|warnings?)")


@dataclass
class Row:
    """One project's figures."""

    project: str
    version: str
    tests: int = 0
    checked: int = 0
    flagged: int = 0
    false_positives: int = 0
    real_leaks: int = 0
    errors: int = 0
    plain_seconds: float = 0.0
    leakguard_seconds: float = 0.0
    executions: float = 0.0
    """Executions per checked test: the normal run, the warm-up, measured and holder runs."""
    floor: float = 0.0
    """The ratio if every checked test ran only the screen's executions, each as long as its
    normal run, and sampling cost nothing (see :func:`screen_floor`)."""
    subset: str = ""
    plain_summary: str = ""
    leakguard_summary: str = ""
    flagged_tests: dict[str, str] = field(default_factory=dict)
    """Flagged node id -> its verdict and the probes that decided."""
    error_tests: dict[str, str] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.leakguard_seconds / self.plain_seconds if self.plain_seconds else 0.0


def run(command: list[str], cwd: Path, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    """Run a command, echoing it; output captured."""
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def prepare(project: Project, work: Path, plugin: Path) -> tuple[Path, Path]:
    """Download and unpack the sdist, make the venv; return (source dir, venv python)."""
    base = work / f"{project.name}-{project.version}"
    base.mkdir(parents=True, exist_ok=True)
    sdists = base / "sdist"
    if not any(sdists.glob("*.tar.gz")):
        done = run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                f"{project.name}=={project.version}",
                "-d",
                str(sdists),
            ],
            base,
        )
        if done.returncode:
            raise RuntimeError(f"pip download {project.name} failed:\n{done.stderr}")
    (archive,) = sdists.glob("*.tar.gz")
    source = base / archive.name[: -len(".tar.gz")]
    if not source.exists():
        with tarfile.open(archive) as tar:
            tar.extractall(base, filter="data")
    venv = base / "venv"
    python = venv / "bin" / "python"
    stamp = venv / "leakguard-realworld-deps.txt"
    wanted = "\n".join(project.deps)
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        if not python.exists():
            run([sys.executable, "-m", "venv", str(venv)], base)
        done = run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-e",
                str(plugin),
                str(source),
                *project.deps,
            ],
            base,
        )
        if done.returncode:
            shutil.rmtree(venv)
            raise RuntimeError(f"installing {project.name} failed:\n{done.stderr}")
        stamp.write_text(wanted)
    return source, python


def summary_line(output: str) -> str:
    """pytest's closing line (``12 passed, 1 skipped in 0.5s``)."""
    lines = [line for line in output.splitlines() if OUTCOMES.search(line) and " in " in line]
    return lines[-1].strip("= ") if lines else ""


def count_tests(summary: str) -> int:
    """Tests that ran, from the closing line: every outcome but warnings."""
    return sum(int(n) for n, word in OUTCOMES.findall(summary) if not word.startswith("warning"))


def measure(project: Project, work: Path, plugin: Path, repeat: int = 1) -> Row:
    """Run one project's suite plain and with --leakguard, alternately ``repeat`` times:
    the best time of each (the machine is shared), every test flagged in any run."""
    source, python = prepare(project, work, plugin)
    row = Row(project.name, project.version, subset=project.subset)
    report = source.parent / "leakguard.json"
    base = [str(python), "-m", "pytest", *PYTEST_ARGS, *project.args, *project.tests]
    plain_times, guarded_times = [], []
    for _ in range(repeat):
        report.unlink(missing_ok=True)
        started = time.perf_counter()
        plain = run(base, source)
        plain_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        guarded = run([*base, "--leakguard", f"--leakguard-json={report}"], source)
        guarded_times.append(time.perf_counter() - started)
        if not report.exists():
            raise RuntimeError(f"{project.name}: no JSON report\n{guarded.stdout[-3000:]}")
        data = json.loads(report.read_text())
        classify(row, data["tests"])
    row.plain_seconds, row.leakguard_seconds = min(plain_times), min(guarded_times)
    row.executions = executions(data["tests"])
    row.floor = screen_floor(base, source, row.plain_seconds, data)
    row.plain_summary = summary_line(plain.stdout)
    row.tests = count_tests(row.plain_summary)
    row.leakguard_summary = summary_line(guarded.stdout)
    (source.parent / "plain.txt").write_text(plain.stdout + plain.stderr)
    (source.parent / "leakguard.txt").write_text(guarded.stdout + guarded.stderr)
    return row


def executions(tests: list[dict[str, Any]]) -> float:
    """Mean executions per checked test in one run's report."""
    checked = [t for t in tests if t["verdict"] != "skipped"]
    made = sum(1 + t["warmup"] + t["runs"] + (t.get("holder_check_runs") or 0) for t in checked)
    return made / len(checked) if checked else 0.0


def screen_floor(base: list[str], source: Path, plain: float, report: dict[str, Any]) -> float:
    """What ``--leakguard`` would cost if every checked test ran the screen's re-runs only.

    A plain run with ``--junitxml`` (untimed) gives each test's own time (setup, call,
    teardown); the screen re-runs every checked test ``warmup + runs`` times, so its floor
    is ``(plain + (warmup + runs) * checked tests' time) / plain``.
    """
    junit = source.parent / "junit.xml"
    run([*base, f"--junitxml={junit}"], source)
    checked = {_junit_key(t["nodeid"]) for t in report["tests"] if t["verdict"] != "skipped"}
    seconds = sum(
        float(case.get("time", 0.0))
        for case in ElementTree.parse(junit).getroot().iter("testcase")
        if f"{case.get('classname')}.{case.get('name')}" in checked
    )
    settings = report["settings"]
    screen = int(settings["warmup"]) + int(settings["runs"])
    return (plain + screen * seconds) / plain


def _junit_key(nodeid: str) -> str:
    """``tests/t.py::TestB::test_c[x]`` as JUnit XML names it: ``tests.t.TestB.test_c[x]``.

    As pytest's ``mangle_test_address``: the parameters (after the first ``[``) are kept
    whole, whatever ``::`` or ``/`` they hold.
    """
    address, bracket, params = nodeid.partition("[")
    path, *rest = address.split("::")
    names = [re.sub(r"\.py$", "", path.replace("/", ".")), *rest]
    names[-1] += bracket + params
    return ".".join(names)


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def classify(row: Row, tests: list[dict[str, Any]]) -> None:
    """Count one run's checked tests; add the tests it flagged or could not re-run."""
    known = REAL_LEAKS.get(row.project, {})
    row.checked = sum(1 for entry in tests if entry["verdict"] != "skipped")
    for entry in tests:
        verdict = entry["verdict"]
        if verdict == "error":
            row.error_tests[entry["nodeid"]] = entry["reason"]
        if verdict in FLAGGED:
            offending = [
                f"{probe} {entry['growth_per_run'][probe]:+.1f}/run"
                for probe, trend in entry["trend"].items()
                if entry["thresholds"][probe] is not None and trend != "flat"
            ]
            row.flagged_tests[entry["nodeid"]] = f"{verdict}: {', '.join(offending)}"
    row.errors = len(row.error_tests)
    row.flagged = len(row.flagged_tests)
    row.real_leaks = sum(1 for nodeid in row.flagged_tests if nodeid in known)
    row.false_positives = row.flagged - row.real_leaks


def table(rows: list[Row]) -> list[str]:
    """The Markdown table of docs/real-world.md."""
    lines = [
        "| project | version | tests | tests checked | flagged (leak+inconclusive)"
        " | false positives | real leaks | re-run errors | plain s | --leakguard s | ratio |"
        " executions per checked test | screen's floor | suite |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        " --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.project} | {r.version} | {r.tests} | {r.checked} | {r.flagged}"
            f" | {r.false_positives} | {r.real_leaks} | {r.errors} | {r.plain_seconds:.1f}"
            f" | {r.leakguard_seconds:.1f} | {r.ratio:.2f} | {r.executions:.2f} | {r.floor:.2f}"
            f" | {r.subset or 'whole'} |"
        )
    if rows:
        median = statistics.median(r.ratio for r in rows)
        floor = statistics.median(r.floor for r in rows)
        lines.append("")
        lines.append(
            f"Total: {sum(r.tests for r in rows)} tests, {sum(r.checked for r in rows)} checked,"
            f" {sum(r.flagged for r in rows)} flagged, {sum(r.false_positives for r in rows)}"
            f" false positives; median wall-time ratio {median:.2f} (the screen's floor:"
            f" {floor:.2f})."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated project names (default: all)")
    parser.add_argument("--work", default="/tmp/leakguard-realworld", help="scratch directory")
    parser.add_argument("--plugin", default=str(ROOT), help="the plugin to install (a path)")
    parser.add_argument("--json", help="write the figures to this path")
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=1,
        help="runs of each suite, plain and guarded alternately: the best time of each",
    )
    parser.add_argument(
        "--table",
        nargs="+",
        metavar="JSON",
        help="print the table of saved --json files, run nothing",
    )
    args = parser.parse_args(argv)
    if args.table:
        saved = [row for path in args.table for row in json.loads(Path(path).read_text())["rows"]]
        fields = {f.name for f in dataclasses.fields(Row)}
        loaded = [Row(**{k: v for k, v in r.items() if k in fields}) for r in saved]
        for row in loaded:  # classified again: REAL_LEAKS may have been updated since
            row.real_leaks = sum(
                1 for t in row.flagged_tests if t in REAL_LEAKS.get(row.project, {})
            )
            row.false_positives = row.flagged - row.real_leaks
        print("\n".join(table(loaded)))
        return 0
    wanted = set(args.only.split(",")) if args.only else None
    projects = [p for p in PROJECTS if wanted is None or p.name in wanted]
    work = Path(args.work)
    rows: list[Row] = []
    for project in projects:  # one at a time: the timings share the machine's CPUs
        row = measure(project, work, Path(args.plugin).resolve(), args.repeat)
        rows.append(row)
        print(
            f"{row.project}: {row.plain_summary!r} / {row.leakguard_summary!r},"
            f" ratio {row.ratio:.2f}",
            flush=True,
        )
        for nodeid, what in {**row.flagged_tests, **row.error_tests}.items():
            print(f"  {nodeid}: {what}", flush=True)
    print("\n".join(table(rows)))
    if args.json:
        payload: dict[str, Any] = {"rows": [asdict(r) | {"ratio": r.ratio} for r in rows]}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if any(r.false_positives for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
