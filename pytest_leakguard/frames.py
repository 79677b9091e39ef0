"""Where an allocation comes from: which frames are the user's, and how to show them.

Shared by the deep probes that read Python stacks: ``tracemalloc``'s
(:mod:`pytest_leakguard.explain`) and memray's (:mod:`pytest_leakguard.native`).
"""

from __future__ import annotations

import os
import sys

_SKIP = (
    f"{os.sep}_pytest{os.sep}",
    f"{os.sep}pluggy{os.sep}",
    f"{os.sep}pytest_leakguard{os.sep}",
    "tracemalloc.py",
    "<frozen importlib",
)


def machinery(filename: str) -> bool:
    """A frame of pytest, pluggy, this plugin, or the script that started the process.

    The launcher (``venv/bin/pytest``) is named as started: a relative path is neither
    under ``sys.prefix`` nor in ``site-packages``, so it is recognised as ``__main__``.
    """
    if any(part in filename for part in _SKIP):
        return True
    return filename == getattr(sys.modules.get("__main__"), "__file__", None)


def is_user_frame(filename: str, rootdir: str) -> bool:
    """Whether ``filename`` is the user's code: under ``rootdir``, or outside any environment."""
    if filename.startswith("<") or machinery(filename):
        return False
    filename = os.path.normpath(filename)  # "/venv/bin/../lib/..." is under sys.prefix
    if "site-packages" in filename or filename.startswith(sys.prefix):
        return False
    return filename.startswith(rootdir) or not filename.startswith(sys.base_prefix)


def short(filename: str, rootdir: str) -> str:
    """``filename`` relative to ``rootdir``, or to its ``site-packages`` / standard library."""
    if filename.startswith(rootdir + os.sep):
        return filename[len(rootdir) + 1 :]
    for marker in ("site-packages" + os.sep, "lib" + os.sep + "python"):
        index = filename.find(marker)
        if index >= 0:
            return filename[index + len(marker) :].split(os.sep, 1)[-1]
    return filename


def source(filename: str, lineno: int) -> str:
    """The line of source, stripped ("" when it cannot be read)."""
    import linecache

    return linecache.getline(filename, lineno).strip()
