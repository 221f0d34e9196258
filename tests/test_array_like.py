"""Anything NumPy can view is accepted and gives NumPy results: objects with
``__array__``, the buffer protocol (memoryview, array.array) and torch CPU
tensors, for the softmax family, the losses and the logistic functions."""
import array

import numpy as np
import pytest

import fastsoftmax as fs


class ArrayLike:
    """Minimal __array__ provider (as xarray / pandas objects are)."""

    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


def _x(dtype=np.float64):
    return np.random.default_rng(3).standard_normal((6, 5)).astype(dtype)


WRAPPERS = {
    "__array__": ArrayLike,
    "memoryview": memoryview,
}


@pytest.mark.parametrize("wrap", WRAPPERS.values(), ids=WRAPPERS.keys())
@pytest.mark.parametrize("func", [fs.softmax, fs.log_softmax, fs.logsumexp, fs.sigmoid,
                                  fs.log_sigmoid])
def test_array_likes_give_numpy_results(func, wrap):
    x = _x()
    got = func(wrap(x))
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, func(x))


def test_python_array_module_buffer():
    buf = array.array("f", [1.0, 2.0, 3.0])
    got = fs.softmax(buf)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, fs.softmax(np.array([1.0, 2.0, 3.0], np.float32)))


def test_cross_entropy_with_array_likes():
    x = _x()
    y = np.array([0, 4, 2, 1, 3, 0])
    ref = fs.cross_entropy_and_grad(x, y)
    loss, grad = fs.cross_entropy_and_grad(ArrayLike(x), memoryview(y))
    assert loss == ref[0]
    np.testing.assert_array_equal(grad, ref[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_cpu_tensors(dtype):
    torch = pytest.importorskip("torch")
    x = _x(dtype)
    xt = torch.from_numpy(x)
    y = np.array([0, 4, 2, 1, 3, 0])
    yt = torch.from_numpy(y)
    for func in (fs.softmax, fs.log_softmax, fs.logsumexp, fs.sigmoid):
        got = func(xt)
        assert isinstance(got, np.ndarray) and got.dtype == dtype
        np.testing.assert_array_equal(got, func(x))
    assert fs.cross_entropy(xt, yt) == fs.cross_entropy(x, y)
    # a non-contiguous tensor view (transpose) too
    np.testing.assert_array_equal(fs.softmax(xt.T, axis=0), fs.softmax(x.T, axis=0))
    # and the input tensor is untouched
    np.testing.assert_array_equal(xt.numpy(), x)
