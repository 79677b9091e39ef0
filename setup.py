"""Build the optional allocation counter; everything else is in pyproject.toml.

The extension is optional: without a C compiler (or on a free-threaded or
non-CPython interpreter) the package installs without it and the ``heap``
probe counts with ``tracemalloc`` instead, slower but the same figure.
"""

import platform

from setuptools import Extension, setup

ext_modules = []
if platform.python_implementation() == "CPython":
    ext_modules.append(
        Extension(
            "pytest_leakguard._alloccount",
            sources=["pytest_leakguard/_alloccount.c"],
            optional=True,
        )
    )

setup(ext_modules=ext_modules)
