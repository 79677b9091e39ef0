"""End-to-end: leaks of descriptors, threads, asyncio tasks and child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_leakguard.probes import resources

SUITE = """
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time

KEPT = []


def test_os_open_leak():
    KEPT.append(os.open(os.devnull, os.O_RDONLY))


def test_socket_leak():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    KEPT.append(server)


def _block_forever():
    threading.Event().wait()


def test_thread_leak():
    threading.Thread(target=_block_forever, daemon=True, name="poller").start()


def test_task_leak():
    loop = asyncio.new_event_loop()

    async def forever():
        await asyncio.sleep(3600)

    KEPT.append(loop.create_task(forever()))
    KEPT.append(loop)


def test_process_leak():
    KEPT.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]))


def test_file_closed():
    with open(__file__) as stream:
        stream.read()


def test_thread_joined():
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()


def test_asyncio_run():
    async def main():
        await asyncio.sleep(0)

    asyncio.run(main())


def test_subprocess_run():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_thread_finishes_within_grace():
    threading.Thread(target=time.sleep, args=(0.02,)).start()
"""

# test -> (verdict, growing probe or None, text in the explanation)
EXPECTED = {
    "test_os_open_leak": ("leak", "fds", "fd -> /dev/null"),
    "test_socket_leak": ("leak", "fds", "socket SOCK_STREAM 127.0.0.1:"),
    "test_thread_leak": (
        "leak",
        "threads",
        "thread 'poller', daemon: runs _block_forever, started at ",
    ),
    "test_task_leak": ("leak", "tasks", "coroutine test_task_leak.<locals>.forever waiting at"),
    "test_process_leak": ("leak", "processes", "time.sleep(120)"),
    "test_file_closed": ("clean", None, None),
    "test_thread_joined": ("clean", None, None),
    "test_asyncio_run": ("clean", None, None),
    "test_subprocess_run": ("clean", None, None),
    "test_thread_finishes_within_grace": ("clean", None, None),
}


def run_suite(
    tmp_path_factory: pytest.TempPathFactory, name: str, source: str, *args: str, sleeper: str
) -> dict[str, dict[str, Any]]:
    """Run ``source`` under --leakguard in a subprocess; verdicts by test name.

    ``sleeper`` is the command-line fragment of the children the suite leaks: they are
    stopped afterwards, whatever happened.
    """
    directory: Path = tmp_path_factory.mktemp(name)
    (directory / f"test_{name}_suite.py").write_text(source)
    report = directory / "report.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "-W",
        "ignore::ResourceWarning",
        "--leakguard",
        f"--leakguard-json={report}",
        # A confirmation of 20 more runs: a process leak keeps a child per run alive.
        "--leakguard-confirm-runs=40",
        *args,
    ]
    try:
        done = subprocess.run(
            command, cwd=directory, capture_output=True, text=True, check=False, timeout=600
        )
    finally:
        subprocess.run(["pkill", "-f", sleeper], check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    tests = json.loads(report.read_text())["tests"]
    return {t["nodeid"].split("::")[-1]: t for t in tests}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The resource suite once under --leakguard."""
    return run_suite(tmp_path_factory, "resources", SUITE, sleeper="time.sleep(120)")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_resource_verdict(results: dict[str, dict[str, Any]], name: str) -> None:
    verdict, probe, text = EXPECTED[name]
    test = results[name]
    assert test["verdict"] == verdict, test["message"]
    if probe is None:
        return
    assert test["trend"][probe] == "growing"
    assert test["growth_per_run"][probe] == pytest.approx(1.0)
    lines = test["explanation"]["resources"][probe]
    assert any(text in line for line in lines), lines
    assert text in test["message"]


SUPPRESSED = """
import os
import subprocess
import sys
import threading

import pytest

KEPT = []


def _block_forever():
    threading.Event().wait()


def test_thread_pool_ignored_by_name():
    threading.Thread(target=_block_forever, daemon=True, name="poller-1").start()


@pytest.mark.leakguard(ignore=["fd:/dev/null"])
def test_fd_ignored_by_marker():
    KEPT.append(os.open(os.devnull, os.O_RDONLY))


def test_process_ignored_by_command():
    KEPT.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(121)"]))


def test_other_threads_still_count():
    threading.Thread(target=_block_forever, daemon=True, name="worker").start()
"""


@pytest.fixture(scope="module")
def suppressed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The suppression suite under --leakguard-ignore (CLI) and the marker's ignore=."""
    return run_suite(
        tmp_path_factory,
        "suppressed",
        SUPPRESSED,
        "--leakguard-ignore=thread:poller-*,process:*time.sleep(121)*",
        "--leakguard-clean-details",
        sleeper="time.sleep(121)",
    )


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("test_thread_pool_ignored_by_name", "threads"),
        ("test_fd_ignored_by_marker", "fds"),
        ("test_process_ignored_by_command", "processes"),
    ],
)
def test_suppressed_resources_are_not_counted(
    suppressed: dict[str, dict[str, Any]], name: str, probe: str
) -> None:
    test = suppressed[name]
    assert test["growth_per_run"][probe] == 0, test["message"]
    assert test["verdict"] != "leak" or test["trend"][probe] != "growing", test["message"]


def test_suppression_does_not_hide_other_resources(suppressed: dict[str, dict[str, Any]]) -> None:
    test = suppressed["test_other_threads_still_count"]
    assert test["verdict"] == "leak", test["message"]
    assert test["trend"]["threads"] == "growing"


class _Counts:
    """A count that reads ``values`` in turn (the last one from then on)."""

    def __init__(self, *values: int) -> None:
        self.values, self.calls = list(values), 0

    def __call__(self) -> int:
        self.calls += 1
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


def test_grace_waits_for_finishing_threads_but_not_for_a_leak(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(resources.time, "sleep", slept.append)
    grace = resources.Grace(baseline=3)
    assert grace.count(_Counts(3)) == 3
    assert slept == []
    assert grace.count(_Counts(5, 4, 3)) == 3
    assert len(slept) == 2
    # A leak: one more thread each run that never ends; two full waits, then none.
    for run, leaked in enumerate((4, 5, 6, 7), 1):
        slept.clear()
        assert grace.count(_Counts(leaked)) == leaked
        assert len(slept) == (len(resources.GRACE_DELAYS) if run <= 2 else 0), run
