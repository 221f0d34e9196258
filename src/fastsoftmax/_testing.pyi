# Type stubs for the compiled test-only module fastsoftmax._testing
# (cext/_testing.pyx), checked against it by tests/test_typing.py.
from typing import Any

import numpy as np
from numpy.typing import NDArray

# elementwise exp of a 1-D float32/float64 array into out (same dtype)
def exp(x: NDArray[np.floating[Any]], out: NDArray[np.floating[Any]]) -> None: ...

# out = exp(x - b) by the row kernels' exponential (near: the uncompensated difference)
def exp_diff(x: NDArray[np.floating[Any]], b: float, out: NDArray[np.floating[Any]],
             near: bool) -> None: ...

# the sum of a 1-D float64 array in the cross-entropy drivers' order (numpy.sum's)
def pairwise_sum(a: NDArray[np.float64]) -> float: ...
