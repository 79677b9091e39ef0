"""Real leaks in PyPI packages, at the release that leaks and the release that fixed it.

Each case below is a leak reported in a package's public tracker, with the release that has it
and the first release without it, and a test file in ``benchmarks/leakcorpus/`` that calls the
leaking API once, as a user's test would. Before a case joined the list, its ground truth was
checked by a standalone loop (the API called a few hundred times in a plain interpreter; the
figures are in :attr:`Case.loop`): the leaky release grows at every call, the fixed one does not.

For each case and each of its two releases, this script:

1. makes a scratch venv (cached under ``--work``, one per package, release and Python) with the
   package at that release, which also sees a venv of tools made once per Python: pytest-memray
   and this plugin (``pip install -e`` of the repository this script belongs to, or
   ``--plugin``);
2. runs the test file with ``pytest --leakguard --leakguard-json=...`` and reads the verdict;
3. runs it again with ``pytest --memray``, every test marked ``limit_leaks(LIMIT)`` by a
   ``conftest.py`` (pytest-memray runs each test once and fails it if one call stack leaves more
   than LIMIT allocated when the test returns), and reads the outcome;

timing both. A tool is right on a case when it flags the leaky release and passes the fixed one.
It prints a Markdown table (the one in docs/real-world.md) and writes the figures with
``--json``; it exits 1 unless pytest-leakguard flagged every leaky release and passed every
fixed one.

Usage::

    python benchmarks/leakcorpus.py [--case sh-pipe-fds,...] [--work DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent / "leakcorpus"
PYENV = Path.home() / ".pyenv" / "versions"


@dataclass(frozen=True)
class Case:
    """A leak in a package: the release that has it, the first release without it."""

    name: str
    package: str
    leaky: str
    fixed: str
    kind: str
    """``pure`` (Python code), ``C`` (a reference leak in an extension: objects), ``C buffer``
    (an extension's raw buffer from Python's allocator: no object, seen by tracemalloc),
    ``native`` (memory from ``malloc`` that Python's allocators never see), ``fds`` (file
    descriptors)."""
    source: str
    """The public report or advisory."""
    test: str
    """The test file in benchmarks/leakcorpus/."""
    loop: str
    """What the standalone loop measured per call, leaky release / fixed release."""
    python: str = "3.11"
    """The Python the releases have wheels for (or build on)."""
    deps: tuple[str, ...] = ()
    """The package's dependencies, pinned (installed with ``--no-deps`` like the package)."""


CASES = (
    Case(
        "sh-pipe-fds",
        "sh",
        "1.12.2",
        "1.12.3",
        "fds",
        "https://github.com/amoffat/sh/issues/336",
        "test_sh_pipe_fds.py",
        "+1 fd / 0 fd",
    ),
    Case(
        "croniter-timestamp-cache",
        "croniter",
        "6.0.0",
        "6.2.2",
        "pure",
        "https://github.com/pallets-eco/croniter/issues/182",
        "test_croniter_timestamp_cache.py",
        "+310 B traced, +1 dict entry / +11 B (re's bounded cache)",
        deps=("python-dateutil==4.0.0", "tzdata==2026.6", "pytz==2026.6"),
    ),
    Case(
        "frozendict-hash",
        "frozendict",
        "2.3.1",
        "2.3.2",
        "C",
        "https://github.com/Marco-Sulla/python-frozendict/issues/55",
        "test_frozendict_hash.py",
        "+147 KB traced, +2 objects / +3 B, 0",
        python="3.10",
    ),
    Case(
        "frozendict-repr",
        "frozendict",
        "2.3.2",
        "2.3.3",
        "C",
        "https://github.com/Marco-Sulla/python-frozendict/issues/59",
        "test_frozendict_repr.py",
        "+9.8 KB traced / +3 B",
        python="3.10",
    ),
    Case(
        "frozendict-empty",
        "frozendict",
        "2.3.2",
        "2.3.3",
        "C",
        "https://github.com/Marco-Sulla/python-frozendict/issues/60",
        "test_frozendict_empty.py",
        "+75 B traced / +3 B",
        python="3.10",
    ),
    Case(
        "ujson-dump-write-error",
        "ujson",
        "5.12.0",
        "5.12.1",
        "C",
        "https://github.com/datahub-project/datahub/pull/17453 (CVE-2026-44660)",
        "test_ujson_dump_write_error.py",
        "+10.9 KB traced / +4 B",
    ),
    Case(
        "ujson-default-non-ascii",
        "ujson",
        "5.12.0",
        "5.12.1",
        "C",
        "https://github.com/ultrajson/ultrajson/issues/631",
        "test_ujson_default_non_ascii.py",
        "+458 B traced / +4 B",
    ),
    Case(
        "attrs-linecache",
        "attrs",
        "21.2.0",
        "21.3.0",
        "pure",
        "https://github.com/python-attrs/attrs/pull/828",
        "test_attrs_linecache.py",
        "+2 linecache entries, +1.6 KB traced, +4 objects / +17 B, 0",
    ),
    Case(
        "wrapt-unbound-call",
        "wrapt",
        "1.11.0",
        "1.11.1",
        "C",
        "https://github.com/GrahamDumpleton/wrapt/issues/128",
        "test_wrapt_unbound_call.py",
        "+53 B traced, +1 object / +5 B, 0",
        python="3.9",
    ),
    Case(
        "lz4-frame-error",
        "lz4",
        "4.0.1",
        "4.0.2",
        "C buffer",
        "https://github.com/python-lz4/python-lz4/issues/247",
        "test_lz4_frame_error.py",
        "+600 KB traced, +4 KB RSS / +7 B, 0",
        python="3.10",
    ),
    Case(
        "ijson-parse-error",
        "ijson",
        "3.2.0.post0",
        "3.2.1",
        "C buffer",
        "https://github.com/ICRAR/ijson/issues/97",
        "test_ijson_parse_error.py",
        "+64 KB traced, +64 KB RSS / +3 B, 0",
    ),
    Case(
        "rapidjson-invalid-json",
        "python-rapidjson",
        "0.9.3",
        "0.9.4",
        "C",
        "https://github.com/python-rapidjson/python-rapidjson/issues/148",
        "test_rapidjson_invalid_json.py",
        "+10.4 KB traced, +2 objects / +5 B, 0",
        python="3.9",
    ),
    Case(
        "rapidjson-rawjson-rejected",
        "python-rapidjson",
        "1.23",
        "1.25",
        "C",
        "https://github.com/python-rapidjson/python-rapidjson/pull/239",
        "test_rapidjson_rawjson_rejected.py",
        "+25 B traced, +1 block / +1 B, 0",
    ),
    Case(
        "ujson-encode-error-buffer",
        "ujson",
        "5.3.0",
        "5.4.0",
        "C buffer",
        "https://github.com/ultrajson/ultrajson/pull/549",
        "test_ujson_encode_error_buffer.py",
        "+512 KB traced, +68 KB RSS / +5 B, 0",
    ),
    Case(
        "pycryptodome-gmp-integers",
        "pycryptodome",
        "3.14.0",
        "3.14.1",
        "native",
        "https://github.com/Legrandin/pycryptodome/issues/595",
        "test_pycryptodome_gmp_integers.py",
        "+643 B malloc, +0 traced / +3 B malloc",
    ),
    Case(
        "msgpack-unpacker-py312",
        "msgpack",
        "1.0.7",
        "1.0.8",
        "C",
        "https://github.com/msgpack/msgpack-python/issues/579",
        "test_msgpack_unpacker_iter.py",
        "+361 B traced, +3 objects / +1 B, 0",
        python="3.12",
    ),
    Case(
        "numpy-roots-flat",
        "numpy",
        "2.4.0",
        "2.4.1",
        "C buffer",
        "https://github.com/numpy/numpy/issues/30547",
        "test_numpy_roots_flat.py",
        "+3.1 KB malloc, +2.8 KB traced (numpy's own report) / +33 B malloc, 0",
    ),
)
"""The corpus; each case verified by a standalone loop (docs/real-world.md)."""

MEMRAY_LIMIT = "1 KB"
PYTEST_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider", "-q")
FLAGGED = ("leak", "inconclusive")
LEAKED = re.compile(r"Test was limited to (\S+ ?\S*) but leaked (\S+ ?\S*)")
OUTCOME = re.compile(r"\b(\d+) (passed|failed|errors?)\b")


@dataclass
class Run:
    """One tool on one release of one case."""

    verdict: str = ""
    """leakguard: the JSON verdict; pytest-memray: ``leak`` (failed on its limit), ``clean``
    (passed) or ``error``."""
    flagged: bool = False
    growth: str = ""
    seconds: float = 0.0


@dataclass
class Row:
    """One case: both tools on both releases."""

    case: str
    package: str
    kind: str
    leaky: str
    fixed: str
    python: str
    source: str
    loop: str
    leakguard: dict[str, Run] = field(default_factory=dict)
    memray: dict[str, Run] = field(default_factory=dict)
    """Keyed by ``"leaky"`` and ``"fixed"``."""

    def right(self, tool: str) -> bool:
        """The tool flagged the leaky release and passed the fixed one."""
        runs = self.leakguard if tool == "leakguard" else self.memray
        return runs["leaky"].flagged and not runs["fixed"].flagged and not _erred(runs["fixed"])


def _erred(run: Run) -> bool:
    return run.verdict in ("error", "")


def run(command: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a command, echoing it; output captured."""
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def interpreter(version: str) -> Path:
    """The pyenv interpreter for ``3.X`` (this one if it is that version)."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return Path(sys.executable)
    found = sorted(PYENV.glob(f"{version}.*/bin/python"))
    if not found:
        raise RuntimeError(f"no Python {version}: looked in {PYENV}")
    return found[-1]


def make_venv(
    venv: Path, python_version: str, stamp_text: str, packages: list[str], pip: Path | None = None
) -> Path:
    """A venv at ``venv`` with ``packages`` installed, rebuilt unless its stamp matches.

    With ``pip`` (another venv's interpreter), the venv is made without pip (faster) and that
    interpreter's pip installs into it (``pip --python``).
    """
    python = venv / "bin" / "python"
    stamp = venv / "leakguard-corpus.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == stamp_text:
        return python
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    create = [str(interpreter(python_version)), "-m", "venv", str(venv)]
    run(create if pip is None else [*create, "--without-pip"], venv.parent)
    installer = [str(python), "-m", "pip"] if pip is None else [str(pip), "-m", "pip"]
    target = [] if pip is None else ["--python", str(python)]
    done = run([*installer, *target, "install", "-q", *packages], venv.parent)
    if done.returncode:
        shutil.rmtree(venv)
        raise RuntimeError(f"pip install {' '.join(packages)} failed:\n{done.stderr}")
    stamp.write_text(stamp_text)
    return python


def site_packages(python: Path) -> str:
    """The venv's site-packages directory."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()


def venv_for(case: Case, version: str, work: Path, plugin: Path) -> Path:
    """A venv with ``case.package==version`` that also sees the tools' venv.

    The tools (this plugin, editable, and pytest-memray with its dependencies) are installed
    once per Python in ``_tools-pyX.Y``; each case's venv holds only the package under test
    and adds the tools' site-packages after its own with a ``.pth`` file (``site.addsitedir``,
    so the editable install's own ``.pth`` hook runs too). The corpus' packages get no
    dependencies but pinned ones (:attr:`Case.deps`), hence ``--no-deps``.
    """
    tools = make_venv(
        work / f"_tools-py{case.python}",
        case.python,
        str(plugin),
        ["pytest-memray", "-e", str(plugin)],
    )
    tools_site = site_packages(tools)
    spec = f"{case.package}=={version}"
    python = make_venv(
        work / f"{case.package}-{version}-py{case.python}",
        case.python,
        " ".join([spec, *case.deps, tools_site]),
        ["--no-deps", spec, *case.deps],
        pip=tools,
    )
    pth = Path(site_packages(python)) / "_leakcorpus_tools.pth"
    pth.write_text(f"import site; site.addsitedir({tools_site!r})\n")
    return python


def scratch(case: Case, label: str, base: Path) -> Path:
    """A fresh directory holding the case's test file."""
    where = base / f"{case.name}-{label}"
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    shutil.copy(TESTS / case.test, where / case.test)
    return where


def with_leakguard(case: Case, python: Path, where: Path) -> Run:
    """``pytest --leakguard`` on the case's test file: its JSON verdict."""
    report = where / "leakguard.json"
    command = [str(python), "-m", "pytest", *PYTEST_ARGS, case.test, "--leakguard"]
    started = time.perf_counter()
    done = run([*command, f"--leakguard-json={report}"], where)
    seconds = time.perf_counter() - started
    (where / "output.txt").write_text(done.stdout + done.stderr)
    if not report.exists():
        return Run("error", False, _tail(done.stdout + done.stderr), seconds)
    tests = json.loads(report.read_text())["tests"]
    if not tests:
        return Run("error", False, "not checked: " + _tail(done.stdout), seconds)
    entry = tests[0]
    moved = [  # a quiet clean test's entry is compact: no trends
        f"{probe} {_amount(entry['growth_per_run'][probe], entry['units'][probe])}/run"
        for probe, trend in entry.get("trend", {}).items()
        if entry["thresholds"][probe] is not None and trend == "growing"
    ]
    growth = ", ".join([*moved, f"{entry['runs']} runs"])
    return Run(entry["verdict"], entry["verdict"] in FLAGGED, growth, seconds)


def with_memray(case: Case, python: Path, where: Path, limit: str) -> Run:
    """``pytest --memray``, the test marked ``limit_leaks(limit)``: failed on it or passed."""
    (where / "conftest.py").write_text(
        "import pytest\n\n\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        f"        item.add_marker(pytest.mark.limit_leaks({limit!r}))\n"
    )
    started = time.perf_counter()
    done = run([str(python), "-m", "pytest", *PYTEST_ARGS, case.test, "--memray"], where)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    (where / "output.txt").write_text(output)
    outcomes = {word.rstrip("s"): int(n) for n, word in OUTCOME.findall(output)}
    if "at least one location leaked more" in output:
        return Run("leak", True, _leaked_locations(output), seconds)
    if outcomes.get("passed") and not outcomes.get("failed") and not outcomes.get("error"):
        return Run("clean", False, "", seconds)
    return Run("error", False, _tail(output), seconds)


def _leaked_locations(output: str) -> str:
    """``3 locations over the limit, largest 54.4 KiB`` from pytest-memray's leak section."""
    section = output.split("List of leaked allocations:", 1)[-1].split("\n=", 1)[0]
    sizes = [
        float(number) * 1024 ** "BKMG".index(prefix or "B")
        for number, prefix in re.findall(
            r"(?:-> |- )([\d.]+) ?([KMG]?)i?B(?: allocated here:)?$", section, re.MULTILINE
        )
    ]
    if not sizes:
        return ""
    many = "location" if len(sizes) == 1 else "locations"
    return f"{len(sizes)} {many} over the limit, largest {_amount(max(sizes), 'bytes')[1:]}"


def _amount(value: float, unit: str) -> str:
    """``+1.5 KiB`` for bytes, ``+2`` for counts."""
    if unit != "bytes":
        return f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+.3g}"
    if abs(value) < 1024:
        return f"{value:+.0f} B"
    if abs(value) < 1024**2:
        return f"{value / 1024:+.1f} KiB"
    return f"{value / 1024**2:+.1f} MiB"


def _tail(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def measure(case: Case, work: Path, plugin: Path, limit: str, tools: set[str]) -> Row:
    """The tools (``leakguard``, ``memray``) on both releases of one case."""
    row = Row(
        case.name,
        case.package,
        case.kind,
        case.leaky,
        case.fixed,
        case.python,
        case.source,
        case.loop,
    )
    for label, version in (("leaky", case.leaky), ("fixed", case.fixed)):
        python = venv_for(case, version, work / "venvs", plugin)
        runs = work / "runs"
        row.leakguard[label] = Run("not run")
        row.memray[label] = Run("not run")
        if "leakguard" in tools:
            row.leakguard[label] = with_leakguard(case, python, scratch(case, label, runs / "lg"))
        if "memray" in tools:
            where = scratch(case, label, runs / "memray")
            row.memray[label] = with_memray(case, python, where, limit)
    return row


def _cell(run: Run) -> str:
    word = {"leak": "**LEAKED**", "clean": "clean"}.get(run.verdict, run.verdict)
    return f"{word} ({run.growth})" if run.growth else word


def table(rows: list[Row], limit: str) -> list[str]:
    """The Markdown table of docs/real-world.md."""
    lines = [
        "| case | kind | leaky → fixed | standalone loop, per call: leaky / fixed"
        " | leakguard on leaky | leakguard on fixed | pytest-memray on leaky"
        " | pytest-memray on fixed | told apart: leakguard / memray | s: leakguard / memray |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lg_s = sum(x.seconds for x in r.leakguard.values())
        mr_s = sum(x.seconds for x in r.memray.values())
        told = f"{_yes(r.right('leakguard'))} / {_yes(r.right('memray'))}"
        lines.append(
            f"| [{r.case}]({r.source.split()[0]}) | {r.kind} | {r.package} {r.leaky} → {r.fixed}"
            f" (py{r.python}) | {r.loop} | {_cell(r.leakguard['leaky'])}"
            f" | {_cell(r.leakguard['fixed'])} | {_cell(r.memray['leaky'])}"
            f" | {_cell(r.memray['fixed'])} | {told} | {lg_s:.1f} / {mr_s:.1f} |"
        )
    if rows:
        lines.append("")
        lines.append(
            f"Told the leaky release from the fixed one: pytest-leakguard"
            f" {sum(r.right('leakguard') for r in rows)} of {len(rows)}, pytest-memray"
            f" (`limit_leaks({limit!r})`) {sum(r.right('memray') for r in rows)} of {len(rows)}."
        )
    return lines


def _yes(right: bool) -> str:
    return "**yes**" if right else "no"


def load(paths: list[str]) -> tuple[list[Row], str]:
    """Rows saved by ``--json``, and the ``limit_leaks`` size of their pytest-memray runs.

    A case in several files is one row, later files' runs winning for the tools they ran
    (``--tools``), so one tool's run can be combined with the other's.
    """
    rows: dict[str, Row] = {}
    limit = MEMRAY_LIMIT
    for path in paths:
        payload = json.loads(Path(path).read_text())
        if any(r["memray"]["leaky"]["verdict"] != "not run" for r in payload["rows"]):
            limit = payload["limit"]
        for saved in payload["rows"]:
            for tool in ("leakguard", "memray"):
                saved[tool] = {k: Run(**v) for k, v in saved[tool].items()}
            row = Row(**saved)
            if row.case not in rows:
                rows[row.case] = row
                continue
            for tool in ("leakguard", "memray"):
                runs = getattr(row, tool)
                if all(run.verdict != "not run" for run in runs.values()):
                    setattr(rows[row.case], tool, runs)
    return list(rows.values()), limit


LOOP = """
import ctypes, gc, importlib.util, json, os, sys, tracemalloc

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2

def sample():
    info = libc.mallinfo2()
    with open("/proc/self/statm") as statm:
        rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return {"traced_bytes": tracemalloc.get_traced_memory()[0], "objects": len(gc.get_objects()),
            "malloc_bytes": info.uordblks + info.hblkhd, "rss_bytes": rss,
            "fds": len(os.listdir("/proc/self/fd"))}

path, calls, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = importlib.util.spec_from_file_location("case", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
(test,) = [value for name, value in vars(module).items() if name.startswith("test_")]
for _ in range(warmup):
    test()
tracemalloc.start()
gc.collect()
before = sample()
for _ in range(calls):
    test()
gc.collect()
after = sample()
print(json.dumps({key: (after[key] - before[key]) / calls for key in before}))
"""
"""The standalone loop: the case's test function called in a plain interpreter, no pytest
runner; growth per call of traced bytes, gc-tracked objects, glibc's live heap (``mallinfo2``),
RSS and open file descriptors."""

LOOP_KEYS = ("traced_bytes", "objects", "malloc_bytes", "rss_bytes", "fds")


def loop(case: Case, work: Path, plugin: Path, calls: int) -> list[str]:
    """The standalone loop on both releases of a case: its table rows."""
    rows = []
    script = work / "standalone_loop.py"
    script.write_text(LOOP)
    for version in (case.leaky, case.fixed):
        python = venv_for(case, version, work / "venvs", plugin)
        command = [str(python), str(script), str(TESTS / case.test), str(calls), "20"]
        done = run(command, work)
        if done.returncode:
            rows.append(f"| {case.name} | {version} | error: {_tail(done.stderr)} |")
            continue
        figures = json.loads(done.stdout.splitlines()[-1])
        cells = " | ".join(f"{round(figures[key], 1) + 0.0:+.1f}" for key in LOOP_KEYS)
        rows.append(f"| {case.name} | {case.package} {version} | {cells} |")
    return rows


MEMRAY_MARK = """import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.limit_leaks({limit!r}))
"""


def compare_suite(suite: Path, work: Path, plugin: Path, limit: str) -> list[str]:
    """Both tools on a whole suite (its own rootdir), per test; the table's lines."""
    tools = make_venv(
        work / "venvs" / "_tools-py3.11", "3.11", str(plugin), ["pytest-memray", "-e", str(plugin)]
    )
    out = work / "suite"
    out.mkdir(parents=True, exist_ok=True)
    (out / "leakcorpus_memray_limit.py").write_text(MEMRAY_MARK.format(limit=limit))
    base = [str(tools), "-m", "pytest", *PYTEST_ARGS, str(suite)]
    started = time.perf_counter()
    plain = run(base, suite)
    plain_s = time.perf_counter() - started
    report, junit = out / "leakguard.json", out / "memray.xml"
    started = time.perf_counter()
    run([*base, "--leakguard", f"--leakguard-json={report}"], suite)
    lg_s = time.perf_counter() - started
    env = {**os.environ, "PYTHONPATH": str(out)}
    started = time.perf_counter()
    memray_cmd = [*base, "-p", "leakcorpus_memray_limit", "--memray", f"--junitxml={junit}"]
    print("+", " ".join(memray_cmd), flush=True)
    subprocess.run(memray_cmd, cwd=suite, capture_output=True, text=True, env=env, check=False)
    mr_s = time.perf_counter() - started
    verdicts = {t["nodeid"]: t["verdict"] for t in json.loads(report.read_text())["tests"]}
    memray = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        failure = case.find("failure")
        name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        leaked = failure is not None and "leak" in (failure.get("message") or "")
        memray[name] = "leak" if leaked else "failed" if failure is not None else "clean"
    lines = ["| test | pytest-leakguard | pytest-memray |", "| --- | --- | --- |"]
    for nodeid in sorted(set(verdicts) | set(memray)):
        short = nodeid.split("/")[-1]
        lines.append(f"| {short} | {verdicts.get(nodeid, '-')} | {memray.get(nodeid, '-')} |")
    lines.append("")
    lines.append(
        f"Wall time: plain {plain_s:.1f} s ({summary(plain.stdout)}), --leakguard {lg_s:.1f} s,"
        f" --memray with limit_leaks({limit!r}) {mr_s:.1f} s."
    )
    return lines


def summary(output: str) -> str:
    """pytest's closing line."""
    lines = [line for line in output.splitlines() if OUTCOME.search(line) and " in " in line]
    return lines[-1].strip("= ") if lines else ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", help="comma-separated case names (default: all)")
    parser.add_argument("--work", help="scratch dir, venvs kept (default: a temp dir)")
    parser.add_argument("--plugin", default=str(ROOT), help="the plugin to install (a path)")
    parser.add_argument("--limit", default=MEMRAY_LIMIT, help="pytest-memray's limit_leaks")
    parser.add_argument("--json", help="write the figures to this path")
    parser.add_argument("--list", action="store_true", help="list the cases, run nothing")
    parser.add_argument("--table", nargs="+", metavar="JSON", help="print saved runs' table")
    parser.add_argument("--suite", help="run both tools on this test suite instead, per test")
    parser.add_argument(
        "--loop", type=int, metavar="CALLS", help="run the standalone loop instead (CALLS calls)"
    )
    parser.add_argument(
        "--tools", default="leakguard,memray", help="which tools to run (default: both)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.suite:
        plugin = Path(args.plugin).resolve()
        print("\n".join(compare_suite(Path(args.suite).resolve(), _work(args), plugin, args.limit)))
        return 0
    if args.list:
        for case in CASES:
            print(f"{case.name}: {case.package} {case.leaky} -> {case.fixed} ({case.kind})")
        return 0
    if args.table:
        print("\n".join(table(*load(args.table))))
        return 0
    wanted = set(args.case.split(",")) if args.case else None
    unknown = (wanted or set()) - {c.name for c in CASES}
    if unknown:
        parser.error(f"--case: unknown case(s) {', '.join(sorted(unknown))} (see --list)")
    cases = [c for c in CASES if wanted is None or c.name in wanted]
    tools = set(args.tools.split(","))
    if not tools <= {"leakguard", "memray"} or not tools:
        parser.error(f"--tools: {args.tools!r}: a comma-separated subset of leakguard,memray")
    work = _work(args)
    if args.loop:
        header = " | ".join(f"{key} /call" for key in LOOP_KEYS)
        print(f"| case | release | {header} |\n|{' --- |' * (2 + len(LOOP_KEYS))}")
        for case in cases:
            print("\n".join(loop(case, work, Path(args.plugin).resolve(), args.loop)))
        return 0
    rows = []
    for case in cases:  # one at a time: the timings share the machine's CPUs
        row = measure(case, work, Path(args.plugin).resolve(), args.limit, tools)
        rows.append(row)
        print(
            f"{case.name}: leakguard {'right' if row.right('leakguard') else 'WRONG'},"
            f" pytest-memray {'right' if row.right('memray') else 'WRONG'}",
            flush=True,
        )
    print("\n".join(table(rows, args.limit)))
    if args.json:
        payload: dict[str, Any] = {"limit": args.limit, "rows": [asdict(r) for r in rows]}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    # The goal (issue #14): every leaky release flagged, every fixed one clean.
    return 1 if "leakguard" in tools and not all(r.right("leakguard") for r in rows) else 0


def _work(args: argparse.Namespace) -> Path:
    """``--work``, or a new temporary directory."""
    return Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="leakguard-corpus-"))


if __name__ == "__main__":
    sys.exit(main())
