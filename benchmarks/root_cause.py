"""Many tests, one root cause: ``--leakguard`` against plain pytest on a hand-made suite.

``--tests`` tests (default 40) call a runner that caches a stream per call in a
module-level dict (a CLI library's test runner did: a real leak, one stream per
call, in a standalone loop too), beside ``--clean`` clean tests.  ``--heap N``
keeps N small dicts alive from a conftest, as a real application's heap: what an
explanation walks.  Each command runs ``--repeat`` times; the best wall time and
the CPU time of that run are kept.

Usage::

    python benchmarks/root_cause.py [--python .venv/bin/python] [--tests 40] [--heap 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNNER = """
import io

_STREAMS = {}
_CALLS = [0]


def invoke(*args):
    _CALLS[0] += 1
    stream = io.StringIO()
    _STREAMS[_CALLS[0]] = stream  # cached per call, never dropped
    stream.write(" ".join(args))
    return stream.getvalue()
"""

TEST = """
from cli_runner import invoke


def test_command_{n}():
    assert invoke("command-{n}", "--verbose").startswith("command")
"""

CLEAN = """

def test_clean_{n}():
    assert sum(range(100)) == 4950
"""


def write_suite(directory: Path, tests: int, clean: int, heap: int) -> None:
    """The runner module, one test file, and a conftest that keeps ``heap`` dicts alive."""
    (directory / "cli_runner.py").write_text(RUNNER)
    (directory / "conftest.py").write_text(f"HEAP = [{{'n': n}} for n in range({heap})]\n")
    body = "".join(TEST.format(n=n) for n in range(tests))
    body += "".join(CLEAN.format(n=n) for n in range(clean))
    (directory / "test_cli.py").write_text(body)


def timed(command: list[str], cwd: Path, repeat: int) -> tuple[float, float]:
    """The best wall time of ``repeat`` runs and the CPU time of that run."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = min(best, (wall, cpu))
    return best


def main() -> int:
    """Print one row per command and the ratio to plain pytest."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run")
    parser.add_argument("--tests", type=int, default=40, help="tests that share the root cause")
    parser.add_argument("--clean", type=int, default=0, help="clean tests beside them")
    parser.add_argument("--heap", type=int, default=0, help="objects kept alive by a conftest")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (best kept)")
    options = parser.parse_args()
    base = [options.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    commands = {
        "plain": base,
        "--leakguard": [*base, "--leakguard"],
        "--leakguard --leakguard-explain=no": [*base, "--leakguard", "--leakguard-explain=no"],
    }
    with tempfile.TemporaryDirectory(prefix="leakguard-root-cause-") as scratch:
        directory = Path(scratch)
        write_suite(directory, options.tests, options.clean, options.heap)
        plain_wall = None
        print("| command | wall (s) | CPU (s) | wall / plain |")
        print("| --- | ---: | ---: | ---: |")
        for name, command in commands.items():
            wall, cpu = timed(command, directory, options.repeat)
            plain_wall = plain_wall or wall
            print(f"| `{name}` | {wall:.2f} | {cpu:.2f} | {wall / plain_wall:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
