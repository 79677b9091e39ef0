"""What counting the heap costs per allocation: the allocation counter against tracemalloc.

Times a loop that does little but allocate (lists of small dicts, lists and
strings) in a fresh interpreter per measurement: plain, with the ``heap``
probe's compiled counter started, and with ``tracemalloc.start(1)`` (how the
``heap`` probe counts where the counter was not built).  Prints each one's time
and its ratio to plain; the median of ``--reps`` interpreters each.

Usage::

    python benchmarks/alloc.py [--reps N] [--python PATH ...]

``--python`` runs the loop under other interpreters that have this package
installed (for example tox's: ``--python .tox/py39/bin/python .tox/py313/bin/python``).
"""

from __future__ import annotations

import argparse
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

def work():
    kept = []
    for i in range(20000):
        kept.append({"a": i, "b": [i, i + 1], "c": str(i)})
    return len(kept)

work()  # warm
start = time.perf_counter()
for _ in range(20):
    work()
print(time.perf_counter() - start)
"""
MODES = ("plain", "counter", "tracemalloc")


def measure(python: str, reps: int) -> dict[str, float]:
    """Median seconds per mode; the modes interleaved, one interpreter per measurement."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(reps):
        for mode in MODES:
            out = subprocess.run(
                [python, "-c", LOOP, mode], capture_output=True, text=True, check=True
            ).stdout
            times[mode].append(float(out))
    return {mode: statistics.median(values) for mode, values in times.items()}


def main() -> None:
    """Print a row per interpreter."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="interpreters per mode (median)")
    parser.add_argument("--python", nargs="*", default=[sys.executable], help="interpreters")
    args = parser.parse_args()
    print(
        f"{'python':<10} {'plain s':>8} {'counter s':>10} {'tracemalloc s':>14} "
        f"{'counter x':>10} {'tracemalloc x':>14}"
    )
    for python in args.python:
        version = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        t = measure(python, args.reps)
        print(
            f"{version:<10} {t['plain']:>8.3f} {t['counter']:>10.3f} {t['tracemalloc']:>14.3f} "
            f"{t['counter'] / t['plain']:>10.2f} {t['tracemalloc'] / t['plain']:>14.2f}"
        )


if __name__ == "__main__":
    main()
