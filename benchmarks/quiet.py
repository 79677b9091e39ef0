"""How many checked tests of real suites are quiet after one warm-up run.

Reads the ``--leakguard-json`` reports that ``benchmarks/realworld.py`` leaves in its
scratch directory (``<work>/<project>/leakguard.json``) and, for each clean test,
asks whether every judged probe is flat (``rss`` within its threshold) from the
sample after one warm-up run on: over the next two runs (what a check of 4
executions would see: the normal run, one warm-up, two measured runs) and over all
its runs.  The share of such tests is what fewer default runs would save, and the
tests quiet over two runs that moved later are what such a check would have to
send on to a longer look.

Usage::

    python benchmarks/quiet.py [--work /tmp/leakguard-realworld]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RSS_FLOOR = 64 * 1024


def flat(samples: Mapping[str, Sequence[int]], thresholds: Mapping[str, Any], stop: int) -> bool:
    """Whether every judged probe is flat from index 1 (after one warm-up) to ``stop``."""
    for probe, values in samples.items():
        window = list(values[1:stop])
        if not window:
            continue
        if probe == "rss":
            if max(window) - window[0] > (thresholds.get("rss") or RSS_FLOOR):
                return False
        elif thresholds.get(probe) is not None and any(v != window[0] for v in window):
            return False
    return True


def main() -> int:
    """Print one row per project and the total."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--work", default="/tmp/leakguard-realworld", help="realworld.py's --work")
    options = parser.parse_args()
    print("| project | clean tests | quiet over 2 runs after 1 warm-up | of which moved later |")
    print("| --- | ---: | ---: | ---: |")
    totals = [0, 0, 0]
    for report in sorted(Path(options.work).glob("*/leakguard.json")):
        clean = quiet = later = 0
        for test in json.loads(report.read_text())["tests"]:
            samples, thresholds = test.get("samples") or {}, test.get("thresholds") or {}
            if test["verdict"] != "clean" or not samples:
                continue
            clean += 1
            if flat(samples, thresholds, 4):
                quiet += 1
                later += not flat(samples, thresholds, len(next(iter(samples.values()))))
        share = f"{quiet / max(clean, 1):.1%}"
        print(f"| {report.parent.name} | {clean} | {quiet} ({share}) | {later} |")
        totals = [totals[0] + clean, totals[1] + quiet, totals[2] + later]
    clean, quiet, later = totals
    print(f"| total | {clean} | {quiet} ({quiet / max(clean, 1):.1%}) | {later} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
