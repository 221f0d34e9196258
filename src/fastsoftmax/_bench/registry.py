"""What the benchmark measures: ops, and implementations that provide them.

An :class:`Op` says what an operation reads and writes and how its inputs are
made; an :class:`Implementation` says how one library runs the ops it has
(its module, argument conversion, thread control).  Adding an op is one
:func:`register_op` call plus a binding in each implementation that has it;
adding a library (onnxruntime, JAX, ...) is one :func:`register_implementation`
call.  The CLI, its probes, the JSON, the plot and the pytest-benchmark suite
all read :data:`OPS` and :data:`IMPLEMENTATIONS`.

Importing this module imports no optional library: an implementation's
module is imported by :func:`bind`, in the process that times it.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .inputs import make_linear_inputs, make_logits, make_logits_and_labels, make_logits_only

__all__ = ["Op", "Implementation", "OPS", "IMPLEMENTATIONS", "register_op",
           "register_implementation", "matrix_ops", "linear_ops", "reference",
           "available", "version", "bind", "thread_count", "traffic"]


# --------------------------------------------------------------------------
# ops


@dataclass(frozen=True)
class Op:
    """One benchmarked operation.

    Attributes
    ----------
    name : str
        Registry key and table label; implementations bind to it.
    traffic : callable or None
        ``traffic(shape, itemsize) -> (bytes_read, bytes_written)``: what the
        op must read and write at least (the GB/s numerator is their sum).
        None for compute-bound ops.
    make_inputs : callable
        ``make_inputs(shape, dtype, seed) -> tuple`` of NumPy arguments.
    matrix : bool
        Part of the shape matrix (shape = logits' shape).  False for the
        linear cross-entropy ops, whose "shape" is (N, D, V) and which the
        ``--linear`` table measures.
    """

    name: str
    traffic: Callable[[tuple[int, ...], int], tuple[int, int]] | None
    make_inputs: Callable[..., tuple] = make_logits_only
    matrix: bool = True


#: Registered ops by name, in registration (= table) order.
OPS: dict[str, Op] = {}


def register_op(op: Op) -> Op:
    """Add ``op`` to :data:`OPS` (replacing an op of the same name)."""
    OPS[op.name] = op
    return op


def matrix_ops() -> list[str]:
    """Names of the ops of the shape matrix, in table order."""
    return [name for name, op in OPS.items() if op.matrix]


def linear_ops() -> list[str]:
    """Names of the linear cross-entropy ops (the ``--linear`` table)."""
    return [name for name, op in OPS.items() if not op.matrix]


def traffic(op_name: str, shape: Sequence[int], dtype: str) -> tuple[int, int] | None:
    """``(bytes_read, bytes_written)`` of an op on a shape, or None."""
    op = OPS[op_name]
    if op.traffic is None:
        return None
    return op.traffic(tuple(shape), np.dtype(dtype).itemsize)


def _rows(shape):
    return math.prod(shape[:-1])


def _elementwise(shape, itemsize):
    # read the input, write an output of the same size
    return math.prod(shape) * itemsize, math.prod(shape) * itemsize


def _reduction(shape, itemsize):
    # read the input, write one value per row
    return math.prod(shape) * itemsize, _rows(shape) * itemsize


def _loss(shape, itemsize):
    # read the logits and the int64 labels; the scalar result is negligible
    return math.prod(shape) * itemsize + _rows(shape) * 8, 0


def _loss_and_grad(shape, itemsize):
    # ... and write the gradient, the size of the logits
    return _loss(shape, itemsize)[0], math.prod(shape) * itemsize


register_op(Op("softmax", _elementwise))
register_op(Op("log_softmax", _elementwise))
register_op(Op("logsumexp", _reduction))
register_op(Op("cross_entropy", _loss, make_logits_and_labels))
register_op(Op("cross_entropy_and_grad", _loss_and_grad, make_logits_and_labels))
register_op(Op("linear_cross_entropy", None, make_linear_inputs, matrix=False))
register_op(Op("linear_cross_entropy_and_grad", None, make_linear_inputs, matrix=False))


# The divergences, with the options every implementation uses: kl_div of
# log-probabilities against probabilities with torch's reduction for a KL
# divergence ("batchmean"); distillation at temperature 2 with class labels
# (alpha 0.5), loss and gradient w.r.t. the student's logits.
KL_REDUCTION = "batchmean"
DISTILLATION_OPTIONS = {"temperature": 2.0, "alpha": 0.5}


def make_kl_inputs(shape: tuple[int, ...], dtype: str = "float32",
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """log_softmax of seeded logits, and softmax of independent ones (the
    class axis last), computed in ``dtype``."""
    x = make_logits(shape, dtype, seed)
    m = x.max(axis=-1, keepdims=True)
    lp = x - m
    lp -= np.log(np.exp(lp).sum(axis=-1, keepdims=True))
    z = np.random.default_rng(seed + 2).standard_normal(tuple(shape), dtype=np.dtype(dtype).type)
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return lp, z


def make_distillation_inputs(shape: tuple[int, ...], dtype: str = "float32",
                             seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Student logits and labels (:func:`make_logits_and_labels`) and
    independent teacher logits."""
    s, y = make_logits_and_labels(shape, dtype, seed)
    t = np.random.default_rng(seed + 2).standard_normal(tuple(shape), dtype=np.dtype(dtype).type)
    return s, t, y


def _two_inputs(shape, itemsize):
    # read both inputs; the scalar result is negligible
    return 2 * math.prod(shape) * itemsize, 0


def _distillation_and_grad(shape, itemsize):
    # read student, teacher and the int64 labels, write the gradient
    return 2 * math.prod(shape) * itemsize + _rows(shape) * 8, math.prod(shape) * itemsize


register_op(Op("kl_div", _two_inputs, make_kl_inputs))
register_op(Op("distillation_loss_and_grad", _distillation_and_grad, make_distillation_inputs))

# fastsoftmax calls that need their options (the others: the function of the op's name)
_FASTSOFTMAX_CALLS = {
    "kl_div": lambda fs: lambda x, t: fs.kl_div(x, t, reduction=KL_REDUCTION),
    "distillation_loss_and_grad": lambda fs: lambda s, t, y: fs.distillation_loss_and_grad(
        s, t, target=y, **DISTILLATION_OPTIONS),
}


# --------------------------------------------------------------------------
# the NumPy reference


def reference(op_name: str) -> Callable[..., Any]:
    """The NumPy reference of a fastsoftmax function, computed in the input dtype.

    The one place the benchmark looks a reference up: it is both the "numpy"
    implementation and what fastsoftmax's results are checked against.

    Parameters
    ----------
    op_name : str
        A fastsoftmax function name of :data:`OPS` (``"softmax"``,
        ``"cross_entropy_and_grad"``, ...).

    Returns
    -------
    callable
        ``f(*args)`` with fastsoftmax's positional arguments (logits, labels)
        and fastsoftmax's result structure.

    Raises
    ------
    KeyError
        If there is no reference for ``op_name``.
    """
    from .. import _reference as ref

    def in_input_dtype(fn):
        return lambda x, *rest: fn(x, *rest, dtype=x.dtype)

    if op_name == "cross_entropy_and_grad":
        loss, grad = in_input_dtype(ref.cross_entropy), in_input_dtype(ref.cross_entropy_grad)
        return lambda x, y: (loss(x, y), grad(x, y))
    if op_name in ("linear_cross_entropy", "linear_cross_entropy_and_grad"):
        return _linear_reference(op_name.endswith("_and_grad"))
    if op_name == "kl_div":
        return in_input_dtype(lambda x, t, dtype: ref.kl_div(x, t, KL_REDUCTION, dtype=dtype))
    if op_name == "distillation_loss_and_grad":
        return in_input_dtype(lambda s, t, y, dtype: ref.distillation_loss_and_grad(
            s, t, y, dtype=dtype, **DISTILLATION_OPTIONS))
    if op_name not in ("softmax", "log_softmax", "logsumexp", "cross_entropy"):
        raise KeyError(f"no NumPy reference for {op_name!r}")
    return in_input_dtype(getattr(ref, op_name))


def _linear_reference(grad: bool) -> Callable[..., Any]:
    # Forms the full logits once (what the fused kernel avoids) and reuses
    # the logits-level references on them, in the input dtype.
    ce = reference("cross_entropy_and_grad" if grad else "cross_entropy")

    def linear_cross_entropy(h, w, y):
        logits = h @ w.T
        if not grad:
            return ce(logits, y)
        loss, g = ce(logits, y)
        del logits
        return loss, g @ w, g.T @ h
    return linear_cross_entropy


# --------------------------------------------------------------------------
# implementations


def _identity(module, array):
    return array


def _no_thread_control(module, n):
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Implementation:
    """One library the ops are timed with.

    Attributes
    ----------
    name : str
        Column label; "fastsoftmax" is the baseline the others are compared to.
    module : str
        Imported (in the timing process only) and handed to the bindings.
    bindings : mapping
        Op name -> ``factory(module) -> f``; ``f(*converted_args)`` runs the op.
        Ops missing here are shown as "-".
    convert : callable
        ``convert(module, ndarray)``: one NumPy argument in the library's own
        type (e.g. a zero-copy tensor); done before timing.
    threads : callable
        ``threads(module, n)``: a context manager running the library with
        ``n`` intra-op threads.
    finish : callable or None
        Applied to each result inside the timed call, for libraries that
        return before the work is done (JAX's ``block_until_ready``).
    environ : callable or None
        ``environ(n) -> dict`` of environment variables the timing process
        needs for ``n`` threads (for libraries configured before import).
    distribution : str or None
        Package name for the version; default the top-level module.
    """

    name: str
    module: str
    bindings: Mapping[str, Callable[[Any], Callable[..., Any]]]
    convert: Callable[[Any, np.ndarray], Any] = _identity
    threads: Callable[[Any, int], contextlib.AbstractContextManager[Any]] = _no_thread_control
    finish: Callable[[Any], Any] | None = None
    environ: Callable[[int], dict[str, str]] | None = None
    distribution: str | None = field(default=None)


#: Registered implementations by name, in column order.
IMPLEMENTATIONS: dict[str, Implementation] = {}


def register_implementation(impl: Implementation) -> Implementation:
    """Add ``impl`` to :data:`IMPLEMENTATIONS` (replacing one of the same name)."""
    IMPLEMENTATIONS[impl.name] = impl
    return impl


def _attribute(name):
    return lambda module: getattr(module, name)


def _fastsoftmax_threads(fs, n):
    return fs.num_threads(n)


def _blas_threads(n):
    # the matrix products of linear cross-entropy run in NumPy's BLAS, whose
    # thread pool is sized from the environment when it loads
    return {"OPENBLAS_NUM_THREADS": str(n), "MKL_NUM_THREADS": str(n)}


register_implementation(Implementation(
    "fastsoftmax", "fastsoftmax",
    {name: _FASTSOFTMAX_CALLS.get(name, _attribute(name)) for name in OPS},
    threads=_fastsoftmax_threads, environ=_blas_threads,
))


def _numpy_binding(op_name):
    return lambda np_module: reference(op_name)


register_implementation(Implementation(
    "numpy", "numpy", {name: _numpy_binding(name) for name in OPS}, environ=_blas_threads,
))


def _torch_rows(x, y):
    """(N, C) logits and (N,) labels: the layout F.cross_entropy expects."""
    return x.reshape(-1, x.shape[-1]), y.reshape(-1)


def _torch_softmax(name):
    return lambda torch: lambda x: getattr(torch, name)(x, dim=-1)


def _torch_cross_entropy(torch):
    F = torch.nn.functional
    return lambda x, y: F.cross_entropy(*_torch_rows(x, y))


def _torch_cross_entropy_and_grad(torch):
    F = torch.nn.functional

    def cross_entropy_and_grad(x, y):
        # a fresh leaf per call: no gradient accumulates between calls
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(*_torch_rows(x, y))
        loss.backward()
        return loss.detach(), x.grad
    return cross_entropy_and_grad


def _torch_linear(grad):
    def factory(torch):
        F = torch.nn.functional

        def linear_cross_entropy(h, w, y):
            if not grad:
                with torch.no_grad():
                    return F.cross_entropy(F.linear(h, w), y)
            h = h.detach().requires_grad_(True)
            w = w.detach().requires_grad_(True)
            loss = F.cross_entropy(F.linear(h, w), y)
            loss.backward()
            return loss.detach(), h.grad, w.grad
        return linear_cross_entropy
    return factory


def _torch_kl_div(torch):
    F = torch.nn.functional
    return lambda x, t: F.kl_div(x.reshape(-1, x.shape[-1]), t.reshape(-1, t.shape[-1]),
                                 reduction=KL_REDUCTION)


def _torch_distillation_and_grad(torch):
    F = torch.nn.functional
    T, alpha = DISTILLATION_OPTIONS["temperature"], DISTILLATION_OPTIONS["alpha"]

    def distillation_loss_and_grad(s, t, y):
        # a fresh leaf per call; the loss as torch users write it, then autograd
        s = s.detach().requires_grad_(True)
        s2, y2 = _torch_rows(s, y)
        t2 = t.reshape(s2.shape)
        kl = F.kl_div(F.log_softmax(s2 / T, dim=1), F.softmax(t2 / T, dim=1),
                      reduction="batchmean")
        loss = alpha * F.cross_entropy(s2, y2) + (1 - alpha) * T ** 2 * kl
        loss.backward()
        return loss.detach(), s.grad
    return distillation_loss_and_grad


@contextlib.contextmanager
def _torch_threads(torch, n):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


register_implementation(Implementation(
    "torch", "torch",
    {"softmax": _torch_softmax("softmax"), "log_softmax": _torch_softmax("log_softmax"),
     "logsumexp": _torch_softmax("logsumexp"),
     "cross_entropy": _torch_cross_entropy,
     "cross_entropy_and_grad": _torch_cross_entropy_and_grad,
     "linear_cross_entropy": _torch_linear(False),
     "linear_cross_entropy_and_grad": _torch_linear(True),
     "kl_div": _torch_kl_div,
     "distillation_loss_and_grad": _torch_distillation_and_grad},
    convert=lambda torch, a: torch.from_numpy(a),
    threads=_torch_threads,
))


def _scipy_function(name):
    return lambda special: lambda x: getattr(special, name)(x, axis=-1)


register_implementation(Implementation(
    "scipy", "scipy.special",
    {name: _scipy_function(name) for name in ("softmax", "log_softmax", "logsumexp")},
))


# --------------------------------------------------------------------------
# using an implementation


def available(impl_name: str) -> bool:
    """Whether an implementation's library is installed (without importing it)."""
    top = IMPLEMENTATIONS[impl_name].module.partition(".")[0]
    return importlib.util.find_spec(top) is not None


def version(impl_name: str) -> str | None:
    """An implementation's installed version, from the package metadata (so
    without importing it); None if not installed."""
    impl = IMPLEMENTATIONS[impl_name]
    try:
        return importlib.metadata.version(impl.distribution or impl.module.partition(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return None


def bind(op_name: str, impl_name: str, args: tuple) -> Callable[[], Any] | None:
    """A zero-argument callable running ``impl_name``'s ``op_name`` on ``args``.

    Parameters
    ----------
    op_name, impl_name : str
        Keys of :data:`OPS` and :data:`IMPLEMENTATIONS`.
    args : tuple
        NumPy arguments from the op's ``make_inputs``; converted here (not
        timed).

    Returns
    -------
    callable or None
        None when the implementation lacks the op or its library is missing.
        Thread counts are the library's current ones: see :func:`thread_count`.
    """
    impl = IMPLEMENTATIONS[impl_name]
    factory = impl.bindings.get(op_name)
    if factory is None or not available(impl_name):
        return None
    module = importlib.import_module(impl.module)
    fn = factory(module)
    native = tuple(impl.convert(module, a) for a in args)
    finish = impl.finish
    if finish is None:
        return lambda: fn(*native)
    return lambda: finish(fn(*native))


def thread_count(impl_name: str, n: int) -> contextlib.AbstractContextManager[Any]:
    """Context manager running ``impl_name``'s library with ``n`` threads."""
    impl = IMPLEMENTATIONS[impl_name]
    return impl.threads(importlib.import_module(impl.module), n)
