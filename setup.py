"""Build the optional allocation counter; everything else is in pyproject.toml.

The extension is optional: without a C compiler (or on a free-threaded or
non-CPython interpreter) the package installs without it and the ``heap``
probe counts with ``tracemalloc`` instead, slower but the same figure.  A
failed build prints a warning that says so, to the terminal too: pip shows a
successful build's output with ``-v`` only (the report header says it again at
every run).
"""

import platform
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError

WARNING = """
WARNING: pytest-leakguard is installed without its compiled allocation counter
({name}): {error}
The heap probe will count with tracemalloc instead: each allocation in a checked
test will cost 4 to 8 times what it costs unchecked, instead of 2 to 3 times.
To get the counter, install a prebuilt wheel of pytest-leakguard, or a C compiler
(gcc or clang with the Python headers; on Windows, the Microsoft C++ Build Tools)
and reinstall.
"""


class OptionalBuildExt(build_ext):
    """``build_ext`` that warns, visibly, when an optional extension cannot be built."""

    def run(self) -> None:
        try:
            super().run()
        except (CCompilerError, BaseError, OSError) as exc:  # no usable compiler at all
            if not all(ext.optional for ext in self.extensions):
                raise
            for ext in self.extensions:
                _warn(ext.name, exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except (CCompilerError, BaseError, OSError) as exc:
            if not ext.optional:
                raise
            _warn(ext.name, exc)


def _warn(name: str, error: Exception) -> None:
    text = WARNING.format(name=name, error=str(error).strip() or type(error).__name__)
    print(text, file=sys.stderr, flush=True)
    if not sys.stderr.isatty():  # pip captures it: the user's terminal, if there is one
        try:
            with open("/dev/tty", "w") as terminal:
                terminal.write(text)
        except OSError:
            pass


ext_modules = []
if platform.python_implementation() == "CPython":
    ext_modules.append(
        Extension(
            "pytest_leakguard._alloccount",
            sources=["pytest_leakguard/_alloccount.c"],
            optional=True,
        )
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
