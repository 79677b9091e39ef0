"""How the HTML report scales with the number of tests: its size and the time to open it.

Runs a two-test suite once with ``--leakguard-json`` (a clean test and a leaking one) to
take real result entries, then builds JSON reports of ``--tests`` tests from them (one leak
every ``--leak-every`` tests, the rest clean, ``--per-file`` tests per file) and, for each:

* renders it with ``pytest_leakguard.report.html.render`` (the installed package, or the
  one in ``--source DIR``): the render's wall time, the page's size and its size per test;
* opens it in headless Chromium (when ``chromium`` is on PATH, ``websocket-client`` is
  installed and the page is at most ``--max-open-mb``), driven as the browser test does: the
  time from navigating to the load event (the page parsed and its script run), best of
  ``--reps`` fresh browsers, and the resident memory of all Chromium's processes then.

``--compact-clean`` writes the clean tests as the compact result entries do (``nodeid``,
``verdict``, ``runs``, ``warmup`` only: no samples, trends or growth).

Usage::

    python benchmarks/html_report.py [--tests 20000 200000] [--reps 3] [--source DIR] [--keep]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUITE = """\
KEPT = []


def test_clean():
    assert sum(range(10)) == 45


def test_leak():
    KEPT.append(bytearray(10000))
"""

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def templates(directory: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A real report's settings and environment, and its entries by verdict."""
    (directory / "test_templates.py").write_text(SUITE)
    report = directory / "templates.json"
    subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"),
            *("--leakguard", f"--leakguard-json={report}", "test_templates.py"),
        ],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    payload = json.loads(report.read_text())
    by_verdict = {test["verdict"]: test for test in payload["tests"]}
    assert set(by_verdict) == {"clean", "leak"}, by_verdict
    return payload, by_verdict


def report(
    base: dict[str, Any],
    by_verdict: dict[str, dict[str, Any]],
    tests: int,
    leak_every: int,
    per_file: int,
    compact_clean: bool,
) -> dict[str, Any]:
    """A report of ``tests`` tests built from the template entries."""
    clean = by_verdict["clean"]
    if compact_clean:
        clean = {key: clean[key] for key in ("verdict", "runs", "warmup")}
    entries = []
    for index in range(tests):
        module = f"tests/unit/test_module_{index // per_file:05d}.py"
        leaking = index % leak_every == leak_every - 1
        template = by_verdict["leak"] if leaking else clean
        entry = copy.deepcopy(template) if leaking else dict(template)
        entry["nodeid"] = f"{module}::TestThing::test_case_{index:06d}[param-{index % 7}]"
        entries.append(entry)
    return dict(base, tests=entries)


def render(payload: dict[str, Any], page: Path) -> float:
    from pytest_leakguard.report import html

    start = time.perf_counter()
    text = html.render(payload)
    seconds = time.perf_counter() - start
    page.write_text(text, encoding="utf-8")
    return seconds


def open_in_chromium(executable: str, page: Path, directory: Path) -> tuple[float, int]:
    """Seconds from asking a fresh headless Chromium to open ``page`` to its load event (the
    page parsed, its script run); then the RSS (KiB) of all its processes."""
    from test_html import Browser  # the browser test's DevTools driver

    shutil.rmtree(directory / "profile", ignore_errors=True)
    browser = Browser(executable, directory / "profile", directory / "chromium.log")
    try:
        browser.events.clear()
        start = time.perf_counter()
        browser.send("Page.navigate", url=page.as_uri())
        browser.wait_for("Page.loadEventFired", timeout=900)
        seconds = time.perf_counter() - start
        return seconds, tree_rss(browser.process.pid)
    finally:
        browser.close()


def tree_rss(root: int) -> int:
    """The resident memory (KiB) of process ``root`` and all its descendants (Linux)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    tree, total = {root}, 0
    for pid in sorted(parents):  # children have larger pids, almost always: walk twice
        if parents[pid] in tree:
            tree.add(pid)
    for pid in sorted(parents):
        if parents[pid] in tree:
            tree.add(pid)
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += sum(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--leak-every", type=int, default=500)
    parser.add_argument("--per-file", type=int, default=40)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-open-mb", type=float, default=200.0)
    parser.add_argument("--compact-clean", action="store_true")
    parser.add_argument("--source", help="import pytest_leakguard from this directory")
    parser.add_argument("--keep", action="store_true", help="keep the pages")
    args = parser.parse_args()
    if args.source:
        sys.path.insert(0, str(Path(args.source).resolve()))
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(Path(args.source).resolve()), os.environ.get("PYTHONPATH", "")]
        )
    directory = Path(tempfile.mkdtemp(prefix="leakguard-html-"))
    base, by_verdict = templates(directory)
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable:
        empty = directory / "empty.html"
        empty.write_text("<!DOCTYPE html><title>empty</title>", encoding="utf-8")
        seconds, rss = open_in_chromium(executable, empty, directory)
        print(f"chromium, an empty page: {seconds:.2f} s, {rss / 1024:.0f} MB")
    print(
        f"{'tests':>8} {'render s':>9} {'MB':>8} {'B/test':>7} {'open s':>7}"
        f" {'Chromium RSS MB':>16}"
    )
    for tests in args.tests:
        payload = report(
            base, by_verdict, tests, args.leak_every, args.per_file, args.compact_clean
        )
        page = directory / f"report-{tests}.html"
        seconds = render(payload, page)
        size = page.stat().st_size
        opened = "-"
        peak = "-"
        if executable and size <= args.max_open_mb * 1e6:
            runs = [open_in_chromium(executable, page, directory) for _ in range(args.reps)]
            opened = f"{min(s for s, _ in runs):.2f}"
            peak = f"{max(r for _, r in runs) / 1024:.0f}"  # the largest of the runs
        print(
            f"{tests:>8} {seconds:>9.2f} {size / 1e6:>8.1f} {size / tests:>7.0f}"
            f" {opened:>7} {peak:>16}",
            flush=True,
        )
    if args.keep:
        print(f"kept in {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)  # Chromium may still be leaving


if __name__ == "__main__":
    main()
