"""numpy 2.4.0: assigning through ``ndarray.flat`` with a slice leaked the array data it
copied, and ``np.roots`` builds its companion matrix that way (numpy/numpy#30547, fixed by
numpy/numpy#30512 in 2.4.1; 2.4.0 was yanked from PyPI, an exact pin still installs it).

numpy reports its array data to tracemalloc only: the allocation counter does not see it.
"""

import numpy as np


def test_roots() -> None:
    roots = np.roots([3.2, 2, 1])
    assert roots.shape == (2,)
