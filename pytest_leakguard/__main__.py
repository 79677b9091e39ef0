"""``python -m pytest_leakguard``: see :mod:`pytest_leakguard.cli`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
