"""What counting the heap costs per allocation: the allocation counter against tracemalloc.

Times two loops that do little but allocate, in a fresh interpreter per
measurement: plain, with the ``heap`` probe's compiled counter started, and with
``tracemalloc.start(1)`` (how the ``heap`` probe counts where the counter was not
built).  Prints each one's time and its ratio to plain; the median of ``--reps``
interpreters each.

* ``mixed``: 20 times a list of 20,000 small dicts, each with a list and a string
  (about 80,000 blocks alive at the peak, of several sizes);
* ``bulk``: 5 times a list of a million small objects of one size (a test that
  builds a large structure): the counter's table outgrows the CPU's caches.

Usage::

    python benchmarks/alloc.py [--reps N] [--python PATH ...] [--source DIR ...]

``--python`` runs the loops under other interpreters that have this package
installed (for example tox's: ``--python .tox/py39/bin/python .tox/py313/bin/python``).
``--source`` runs them with the package imported from each checkout given (its
counter built in place), side by side: a row per checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

LOOP = """
import sys, time
mode = sys.argv[1]
if mode == "counter":
    from pytest_leakguard import _alloccount
    _alloccount.start()
    _alloccount.focus()  # as the plugin counts: this thread's allocations
elif mode == "tracemalloc":
    import tracemalloc
    tracemalloc.start(1)

def mixed():
    kept = []
    for i in range(20000):
        kept.append({"a": i, "b": [i, i + 1], "c": str(i)})
    return len(kept)

def bulk():
    return len([(i,) for i in range(1000000)])

work, times = (mixed, 20) if sys.argv[2] == "mixed" else (bulk, 5)
work()  # warm
start = time.perf_counter()
for _ in range(times):
    work()
print(time.perf_counter() - start)
"""
MODES = ("plain", "counter", "tracemalloc")
WORKLOADS = ("mixed", "bulk")


def measure(python: str, reps: int, workload: str, source: str) -> dict[str, float]:
    """Median seconds per mode; the modes interleaved, one interpreter per measurement.

    With a ``source``, the interpreter starts in it: ``python -c`` puts the working
    directory ahead of ``PYTHONPATH``, so that is what makes it import that checkout.
    """
    env = dict(os.environ, PYTHONPATH=source) if source else None
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(reps):
        for mode in MODES:
            out = subprocess.run(
                [python, "-c", LOOP, mode, workload],
                capture_output=True,
                text=True,
                check=True,
                env=env,
                cwd=source or None,
            ).stdout
            times[mode].append(float(out))
    return {mode: statistics.median(values) for mode, values in times.items()}


def main() -> None:
    """Print a row per interpreter."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="interpreters per mode (median)")
    parser.add_argument("--python", nargs="*", default=[sys.executable], help="interpreters")
    parser.add_argument("--source", nargs="*", default=[""], help="checkouts to import from")
    args = parser.parse_args()
    print(
        f"{'python':<7} {'workload':<8} {'source':<24} {'plain s':>8} {'counter s':>10}"
        f" {'tracemalloc s':>14} {'counter x':>10} {'tracemalloc x':>14}"
    )
    for python in args.python:
        version = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for workload in WORKLOADS:
            for source in args.source:
                t = measure(python, args.reps, workload, source)
                print(
                    f"{version:<7} {workload:<8} {source[-24:] or '(installed)':<24}"
                    f" {t['plain']:>8.3f} {t['counter']:>10.3f} {t['tracemalloc']:>14.3f}"
                    f" {t['counter'] / t['plain']:>10.2f} {t['tracemalloc'] / t['plain']:>14.2f}"
                )


if __name__ == "__main__":
    main()
