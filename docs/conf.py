"""Sphinx configuration: the Markdown pages in docs/, built with MyST and the furo theme.

Build (warnings are errors): ``sphinx-build -W --keep-going -b html docs docs/_build/html``,
or ``tox -e docs``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_leakguard import __version__  # noqa: E402

project = "pytest-leakguard"
author = "pytest-leakguard developers"
copyright = "pytest-leakguard developers"
release = version = __version__

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# The pages are read on GitHub too: links between them are plain relative Markdown
# links, and their #anchors are GitHub's heading slugs, which MyST generates as well.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]
# Blocks without a language are terminal output or commands: not highlighted as Python.
highlight_language = "text"

html_theme = "furo"
html_title = f"pytest-leakguard {release}"
html_static_path: list[str] = []
