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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import log_softmax, softmax
from .inputs import (InputMaker, make_linear_inputs, make_logits, make_logits_and_binary_targets,
                     make_logits_and_labels, make_logits_only, numpy_dtype)

__all__ = ["Op", "Implementation", "OPS", "IMPLEMENTATIONS", "register_op",
           "register_implementation", "matrix_ops", "linear_ops", "reference", "numpy_peer",
           "available", "version", "bind", "thread_count", "traffic",
           "default_implementations"]


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
    rowwise : bool
        Each leading-axis row of the result depends on the same row of each
        input only, so a correctness check may compute the reference on a
        sample of rows (the extended-precision reference costs seconds on a
        whole large input).
    """

    name: str
    traffic: Callable[[tuple[int, ...], int], tuple[int, int]] | None
    make_inputs: Callable[..., tuple[np.ndarray, ...]] = make_logits_only
    matrix: bool = True
    rowwise: bool = False


#: Registered ops by name, in registration (= table) order.
OPS: dict[str, Op] = {}


def register_op(op: Op) -> Op:
    """Add ``op`` to :data:`OPS` (replacing an op of the same name)."""
    OPS[op.name] = op
    return op


#: The ops a default run times: the softmax family and the cross-entropy,
#: which every peer library has.  The other matrix ops (the newer losses)
#: are timed on request (``--ops all`` or by name).
DEFAULT_OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_and_grad")
#: The ops timed with 16-bit input (``--dtype float16|bfloat16``): those whose
#: kernels read 16-bit rows.
HALF_OPS = DEFAULT_OPS
#: The implementations that take 16-bit input as their users give it.
HALF_IMPLEMENTATIONS = ("fastsoftmax", "fastsoftmax_out", "numpy", "torch")


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
    return op.traffic(tuple(shape), numpy_dtype(dtype).itemsize)


def _rows(shape: tuple[int, ...]) -> int:
    return math.prod(shape[:-1])


def _elementwise(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # read the input, write an output of the same size
    return math.prod(shape) * itemsize, math.prod(shape) * itemsize


def _reduction(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # read the input, write one value per row
    return math.prod(shape) * itemsize, _rows(shape) * itemsize


def _loss(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # read the logits and the int64 labels; the scalar result is negligible
    return math.prod(shape) * itemsize + _rows(shape) * 8, 0


def _loss_and_grad(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # ... and write the gradient, the size of the logits
    return _loss(shape, itemsize)[0], math.prod(shape) * itemsize


register_op(Op("softmax", _elementwise, rowwise=True))
register_op(Op("log_softmax", _elementwise, rowwise=True))
register_op(Op("logsumexp", _reduction, rowwise=True))
register_op(Op("cross_entropy", _loss, make_logits_and_labels))
register_op(Op("cross_entropy_and_grad", _loss_and_grad, make_logits_and_labels))
register_op(Op("linear_cross_entropy", None, make_linear_inputs, matrix=False))
register_op(Op("linear_cross_entropy_and_grad", None, make_linear_inputs, matrix=False))


def _binary_loss_and_grad(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # read the logits and the targets (their size), write the loss and the gradient
    return 2 * math.prod(shape) * itemsize, 2 * math.prod(shape) * itemsize


register_op(Op("focal_loss_and_grad", _loss_and_grad, make_logits_and_labels))
register_op(Op("sigmoid_focal_loss_and_grad", _binary_loss_and_grad,
               make_logits_and_binary_targets))
def _gradient_hessian(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # read the raw predictions and the int64 labels, write gradient and hessian
    return _loss(shape, itemsize)[0], 2 * math.prod(shape) * itemsize


def _backward(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # read the gradient and the forward output, write the input gradient
    return 2 * math.prod(shape) * itemsize, math.prod(shape) * itemsize


def backward_inputs(forward: Callable[[np.ndarray], np.ndarray]) -> InputMaker:
    """The input maker of ``forward``'s backward pass (softmax or log_softmax):
    ``(grad_output, output)``, seeded normal gradients and ``forward`` of the
    benchmark's logits.  Named after ``forward``, since the name keys the
    inputs the probes share (:mod:`inputs`)."""
    def make(shape: tuple[int, ...], dtype: str = "float32",
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed + 2)
        g = rng.standard_normal(tuple(shape), dtype=np.dtype(dtype).type)
        return g, forward(make_logits_only(shape, dtype, seed)[0])
    make.__name__ = make.__qualname__ = f"make_{forward.__name__}_backward_inputs"
    return make


register_op(Op("cross_entropy_gradient_hessian", _gradient_hessian, make_logits_and_labels))
register_op(Op("binary_cross_entropy_gradient_hessian", _binary_loss_and_grad,
               make_logits_and_binary_targets))
register_op(Op("softmax_backward", _backward, backward_inputs(softmax)))
register_op(Op("log_softmax_backward", _backward, backward_inputs(log_softmax)))
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


def _two_inputs(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # read both inputs; the scalar result is negligible
    return 2 * math.prod(shape) * itemsize, 0


def _distillation_and_grad(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    # read student, teacher and the int64 labels, write the gradient
    return 2 * math.prod(shape) * itemsize + _rows(shape) * 8, math.prod(shape) * itemsize


register_op(Op("kl_div", _two_inputs, make_kl_inputs))
register_op(Op("distillation_loss_and_grad", _distillation_and_grad, make_distillation_inputs))

# The calls that need their options, of fastsoftmax or of fastsoftmax.slow
# (the same signatures); the other ops call the function of the op's name.
_CALLS: dict[str, Callable[[Any], Callable[..., Any]]] = {
    "kl_div": lambda fs: lambda x, t: fs.kl_div(x, t, reduction=KL_REDUCTION),
    "distillation_loss_and_grad": lambda fs: lambda s, t, y: fs.distillation_loss_and_grad(
        s, t, target=y, **DISTILLATION_OPTIONS),
}


# --------------------------------------------------------------------------
# the reference and the NumPy peer


def reference(op_name: str) -> Callable[..., Any]:
    """The reference of a fastsoftmax function: :mod:`fastsoftmax.slow`'s.

    What the benchmark checks fastsoftmax's results against.  ``slow`` has
    exactly the public names and signatures, so the reference of an op is
    the function of the same name, called with the same arguments and
    options (:data:`_CALLS`).

    Parameters
    ----------
    op_name : str
        A fastsoftmax function name of :data:`OPS` (``"softmax"``,
        ``"cross_entropy_and_grad"``, ...).

    Returns
    -------
    callable
        ``f(*args)`` with fastsoftmax's arguments and result structure.

    Raises
    ------
    KeyError
        If ``op_name`` is not an op of :data:`OPS`.
    """
    from .. import slow

    if op_name not in OPS:
        raise KeyError(f"no reference for {op_name!r}: not an op of the benchmark")
    if op_name in _CALLS:
        return _CALLS[op_name](slow)
    fn: Callable[..., Any] = getattr(slow, op_name)
    return fn


def numpy_peer(op_name: str) -> Callable[..., Any]:
    """The op written in plain NumPy in the input's dtype (the "numpy" column).

    Raises
    ------
    KeyError
        If there is no NumPy version of ``op_name``.
    """
    from . import numpy_peer as peer

    def in_input_dtype(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(x: Any, *rest: Any) -> Any:
            if x.dtype.itemsize == 2:
                # 16-bit input, as a NumPy user computes it: in a float32 copy
                # (NumPy has no bfloat16 arithmetic), the result rounded back
                out = fn(x.astype(np.float32), *rest, dtype=np.float32)
                return np.asarray(out).astype(x.dtype) if np.ndim(out) else out
            return fn(x, *rest, dtype=x.dtype)
        return call

    if op_name == "cross_entropy_and_grad":
        loss = in_input_dtype(peer.cross_entropy)
        grad = in_input_dtype(peer.cross_entropy_grad)
        return lambda x, y: (loss(x, y), grad(x, y))
    if op_name in ("linear_cross_entropy", "linear_cross_entropy_and_grad"):
        return _linear_numpy(op_name.endswith("_and_grad"))
    if op_name in ("focal_loss_and_grad", "sigmoid_focal_loss_and_grad"):
        return in_input_dtype(getattr(peer, op_name))
    if op_name == "cross_entropy_gradient_hessian":
        return _numpy_gradient_hessian
    if op_name == "binary_cross_entropy_gradient_hessian":
        return _numpy_binary_gradient_hessian
    if op_name == "softmax_backward":
        return _numpy_softmax_backward
    if op_name == "log_softmax_backward":
        return _numpy_log_softmax_backward
    if op_name == "kl_div":
        return in_input_dtype(lambda x, t, dtype: peer.kl_div(x, t, KL_REDUCTION, dtype=dtype))
    if op_name == "distillation_loss_and_grad":
        return in_input_dtype(lambda s, t, y, dtype: peer.distillation_loss_and_grad(
            s, t, y, dtype=dtype, **DISTILLATION_OPTIONS))
    if op_name not in ("softmax", "log_softmax", "logsumexp", "cross_entropy"):
        raise KeyError(f"no NumPy version of {op_name!r}")
    fn: Callable[..., Any] = in_input_dtype(getattr(peer, op_name))
    return fn


def _linear_numpy(grad: bool) -> Callable[..., Any]:
    # Forms the full logits once (what the fused kernel avoids) and reuses
    # the logits-level NumPy versions on them, in the input dtype.
    ce = numpy_peer("cross_entropy_and_grad" if grad else "cross_entropy")

    def linear_cross_entropy(h: Any, w: Any, y: Any) -> Any:
        logits = h @ w.T
        if not grad:
            return ce(logits, y)
        loss, g = ce(logits, y)
        del logits
        return loss, g @ w, g.T @ h
    return linear_cross_entropy


def _numpy_gradient_hessian(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # softmax, then the one-hot subtraction and p (1 - p), in the input dtype
    from . import numpy_peer as peer
    p = peer.softmax(x, dtype=x.dtype)
    g = p.copy()
    np.put_along_axis(g, y[..., None], np.take_along_axis(p, y[..., None], axis=-1) - 1,
                      axis=-1)
    return g, p * (1 - p)


def _numpy_binary_gradient_hessian(x: np.ndarray,
                                   t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # the sigmoid through tanh (no overflow), then p - t and p (1 - p)
    p = 0.5 * (1 + np.tanh(0.5 * x))
    return p - t, p * (1 - p)


def _numpy_softmax_backward(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    out: np.ndarray = y * (g - np.sum(g * y, axis=-1, keepdims=True))
    return out


def _numpy_log_softmax_backward(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    out: np.ndarray = g - np.exp(y) * np.sum(g, axis=-1, keepdims=True)
    return out


# --------------------------------------------------------------------------
# implementations


def _identity(module: Any, array: np.ndarray) -> np.ndarray:
    return array


def _no_thread_control(module: Any, n: int) -> contextlib.AbstractContextManager[None]:
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
    requires : tuple of str
        Further modules the bindings import (onnxruntime's need ``onnx`` to
        build their models); the implementation is available only with all.
    warm_up : bool
        :func:`bind` makes one untimed call before it returns, for libraries
        whose first call compiles (JAX's ``jit``) or builds a session
        (onnxruntime): that cost is neither timed nor allowed to size the
        timing loop.
    default : bool
        Timed by default (the bench's default ``--impls``); False for
        variants one asks for by name.
    thread_note : str
        How its threads are set, for the bench's header (``{n}``: the count);
        empty for the libraries whose API sets them as users do.
    """

    name: str
    module: str
    bindings: Mapping[str, Callable[[Any], Callable[..., Any]]]
    convert: Callable[[Any, np.ndarray], Any] = _identity
    threads: Callable[[Any, int], contextlib.AbstractContextManager[Any]] = _no_thread_control
    finish: Callable[[Any], Any] | None = None
    environ: Callable[[int], dict[str, str]] | None = None
    distribution: str | None = field(default=None)
    requires: tuple[str, ...] = ()
    warm_up: bool = False
    default: bool = True
    thread_note: str = ""


#: Registered implementations by name, in column order.
IMPLEMENTATIONS: dict[str, Implementation] = {}


def register_implementation(impl: Implementation) -> Implementation:
    """Add ``impl`` to :data:`IMPLEMENTATIONS` (replacing one of the same name)."""
    IMPLEMENTATIONS[impl.name] = impl
    return impl


def _attribute(name: str) -> Callable[[Any], Callable[..., Any]]:
    return lambda module: getattr(module, name)


def _fastsoftmax_threads(fs: Any, n: int) -> contextlib.AbstractContextManager[Any]:
    threads: contextlib.AbstractContextManager[Any] = fs.num_threads(n)  # fs: fastsoftmax
    return threads


def _blas_threads(n: int) -> dict[str, str]:
    # the matrix products of linear cross-entropy run in NumPy's BLAS, whose
    # thread pool is sized from the environment when it loads
    return {"OPENBLAS_NUM_THREADS": str(n), "MKL_NUM_THREADS": str(n)}


register_implementation(Implementation(
    "fastsoftmax", "fastsoftmax",
    {name: _CALLS.get(name, _attribute(name)) for name in OPS},
    threads=_fastsoftmax_threads, environ=_blas_threads,
))


def _numpy_binding(op_name: str) -> Callable[[Any], Callable[..., Any]]:
    return lambda np_module: numpy_peer(op_name)


register_implementation(Implementation(
    "numpy", "numpy", {name: _numpy_binding(name) for name in OPS}, environ=_blas_threads,
))


def _torch_rows(x: Any, y: Any) -> tuple[Any, Any]:
    """(N, C) logits and (N,) labels: the layout F.cross_entropy expects."""
    return x.reshape(-1, x.shape[-1]), y.reshape(-1)


def _torch_softmax(name: str) -> Callable[[Any], Callable[[Any], Any]]:
    return lambda torch: lambda x: getattr(torch, name)(x, dim=-1)


def _torch_cross_entropy(torch: Any) -> Callable[[Any, Any], Any]:
    F = torch.nn.functional
    return lambda x, y: F.cross_entropy(*_torch_rows(x, y))


def _torch_cross_entropy_and_grad(torch: Any) -> Callable[[Any, Any], tuple[Any, Any]]:
    F = torch.nn.functional

    def cross_entropy_and_grad(x: Any, y: Any) -> tuple[Any, Any]:
        # a fresh leaf per call: no gradient accumulates between calls
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(*_torch_rows(x, y))
        loss.backward()
        return loss.detach(), x.grad
    return cross_entropy_and_grad


def _torch_linear(grad: bool) -> Callable[[Any], Callable[[Any, Any, Any], Any]]:
    def factory(torch: Any) -> Callable[[Any, Any, Any], Any]:
        F = torch.nn.functional

        def linear_cross_entropy(h: Any, w: Any, y: Any) -> Any:
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


def _torch_gradient_hessian(torch: Any) -> Callable[..., Any]:
    def gradient_hessian(x: Any, y: Any) -> tuple[Any, Any]:
        # softmax, the one-hot subtraction and p (1 - p) with torch ops
        p = torch.softmax(x, dim=-1)
        g = p.clone()
        g.scatter_add_(-1, y.unsqueeze(-1), torch.full_like(p[..., :1], -1.0))
        return g, p * (1 - p)
    return gradient_hessian


def _torch_binary_gradient_hessian(torch: Any) -> Callable[..., Any]:
    def gradient_hessian(x: Any, t: Any) -> tuple[Any, Any]:
        p = torch.sigmoid(x)
        return p - t, p * (1 - p)
    return gradient_hessian


def _torch_softmax_backward(torch: Any) -> Callable[..., Any]:
    return lambda g, y: torch._softmax_backward_data(g, y, -1, g.dtype)


def _torch_log_softmax_backward(torch: Any) -> Callable[..., Any]:
    return lambda g, y: torch._log_softmax_backward_data(g, y, -1, g.dtype)


def _torch_kl_div(torch: Any) -> Callable[..., Any]:
    F = torch.nn.functional
    return lambda x, t: F.kl_div(x.reshape(-1, x.shape[-1]), t.reshape(-1, t.shape[-1]),
                                 reduction=KL_REDUCTION)


def _torch_distillation_and_grad(torch: Any) -> Callable[..., Any]:
    F = torch.nn.functional
    T, alpha = DISTILLATION_OPTIONS["temperature"], DISTILLATION_OPTIONS["alpha"]

    def distillation_loss_and_grad(s: Any, t: Any, y: Any) -> tuple[Any, Any]:
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


def _torch_tensor(torch: Any, a: np.ndarray) -> Any:
    """A zero-copy tensor of a NumPy argument; a bfloat16 array (ml_dtypes)
    as a torch.bfloat16 tensor of the same memory."""
    if a.dtype.kind == "V" and a.dtype.itemsize == 2 and a.dtype.name == "bfloat16":
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


@contextlib.contextmanager
def _torch_threads(torch: Any, n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _torch_focal_loss_and_grad(torch: Any) -> Callable[..., Any]:
    def focal_loss_and_grad(x: Any, y: Any) -> tuple[Any, Any]:
        # the defining expression, differentiated by autograd (gamma = 2)
        x = x.detach().requires_grad_(True)
        xr, yr = _torch_rows(x, y)
        logp_y = torch.log_softmax(xr, dim=-1).gather(1, yr[:, None])[:, 0]
        loss = (-(1 - logp_y.exp()) ** 2 * logp_y).mean()
        loss.backward()
        return loss.detach(), x.grad
    return focal_loss_and_grad


def _torch_sigmoid_focal_loss_and_grad(torch: Any) -> Callable[..., Any]:
    F = torch.nn.functional

    def sigmoid_focal_loss_and_grad(x: Any, t: Any) -> tuple[Any, Any]:
        # torchvision.ops.sigmoid_focal_loss (alpha 0.25, gamma 2, "none")
        x = x.detach().requires_grad_(True)
        p = torch.sigmoid(x)
        ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        p_t = p * t + (1 - p) * (1 - t)
        loss = (0.25 * t + 0.75 * (1 - t)) * (ce * (1 - p_t) ** 2)
        loss.sum().backward()
        return loss.detach(), x.grad
    return sigmoid_focal_loss_and_grad


register_implementation(Implementation(
    "torch", "torch",
    {"softmax": _torch_softmax("softmax"), "log_softmax": _torch_softmax("log_softmax"),
     "logsumexp": _torch_softmax("logsumexp"),
     "cross_entropy": _torch_cross_entropy,
     "cross_entropy_and_grad": _torch_cross_entropy_and_grad,
     "linear_cross_entropy": _torch_linear(False),
     "linear_cross_entropy_and_grad": _torch_linear(True),
     "focal_loss_and_grad": _torch_focal_loss_and_grad,
     "sigmoid_focal_loss_and_grad": _torch_sigmoid_focal_loss_and_grad,
     "cross_entropy_gradient_hessian": _torch_gradient_hessian,
     "binary_cross_entropy_gradient_hessian": _torch_binary_gradient_hessian,
     "softmax_backward": _torch_softmax_backward,
     "log_softmax_backward": _torch_log_softmax_backward,
     "kl_div": _torch_kl_div,
     "distillation_loss_and_grad": _torch_distillation_and_grad},
    convert=lambda torch, a: _torch_tensor(torch, a),
    threads=_torch_threads,
))


def _scipy_function(name: str) -> Callable[[Any], Callable[[Any], Any]]:
    return lambda special: lambda x: getattr(special, name)(x, axis=-1)


register_implementation(Implementation(
    "scipy", "scipy.special",
    {name: _scipy_function(name) for name in ("softmax", "log_softmax", "logsumexp")},
))


#: scikit-learn's losses take their thread count per call (``n_threads=``).
_SKLEARN_THREADS = [1]


@contextlib.contextmanager
def _sklearn_threads(module: Any, n: int) -> Iterator[None]:
    old = _SKLEARN_THREADS[0]
    _SKLEARN_THREADS[0] = n
    try:
        yield
    finally:
        _SKLEARN_THREADS[0] = old


def _sklearn_gradient_hessian(loss_module: Any) -> Callable[..., Any]:
    def gradient_hessian(x: np.ndarray, y: np.ndarray) -> Any:
        # scikit-learn takes float labels of the predictions' dtype
        n_classes = x.shape[-1]
        loss = loss_module.HalfMultinomialLoss(n_classes=n_classes)
        return loss.gradient_hessian(y.astype(x.dtype), x.reshape(-1, n_classes),
                                     n_threads=_SKLEARN_THREADS[0])
    return gradient_hessian


def _sklearn_binary_gradient_hessian(loss_module: Any) -> Callable[..., Any]:
    def gradient_hessian(x: np.ndarray, t: np.ndarray) -> Any:
        # one raw prediction per sample: the elements, flattened
        loss = loss_module.HalfBinomialLoss()
        g, h = loss.gradient_hessian(t.reshape(-1), x.reshape(-1),
                                     n_threads=_SKLEARN_THREADS[0])
        return g.reshape(x.shape), h.reshape(x.shape)
    return gradient_hessian


register_implementation(Implementation(
    "sklearn", "sklearn._loss.loss",
    {"cross_entropy_gradient_hessian": _sklearn_gradient_hessian,
     "binary_cross_entropy_gradient_hessian": _sklearn_binary_gradient_hessian},
    threads=_sklearn_threads, distribution="scikit-learn",
))


# fastsoftmax writing into preallocated outputs (``out=``, ``grad_out=``): the
# variant that allocates nothing per call.  Asked for by name (``--impls``).

def _fastsoftmax_out(name: str) -> Callable[[Any], Callable[..., Any]]:
    def factory(fs: Any) -> Callable[..., Any]:
        buf: np.ndarray | None = None

        def call(x: np.ndarray) -> Any:
            nonlocal buf
            if buf is None:  # the first call (untimed) allocates the output
                buf = np.empty(x.shape[:-1] if name == "logsumexp" else x.shape, x.dtype)
            return getattr(fs, name)(x, out=buf)
        return call
    return factory


def _fastsoftmax_grad_out(fs: Any) -> Callable[..., Any]:
    buf: np.ndarray | None = None

    def cross_entropy_and_grad(x: np.ndarray, y: np.ndarray) -> Any:
        nonlocal buf
        if buf is None:
            buf = np.empty_like(x)
        return fs.cross_entropy_and_grad(x, y, grad_out=buf)
    return cross_entropy_and_grad


register_implementation(Implementation(
    "fastsoftmax_out", "fastsoftmax",
    {**{name: _fastsoftmax_out(name) for name in ("softmax", "log_softmax", "logsumexp")},
     "cross_entropy_and_grad": _fastsoftmax_grad_out},
    threads=_fastsoftmax_threads, default=False,
))


# onnxruntime: one model per (op, dtype, rank), built in memory with
# onnx.helper, run by an InferenceSession on the CPU execution provider with
# the benchmark's intra-op threads and one inter-op thread.  Sessions are
# made by the untimed first call (warm_up) and kept for the process; the
# timed call is ``session.run`` on NumPy inputs, outputs allocated by the
# library, as users call it.  No gradient: an inference session has no
# cross_entropy_and_grad.

#: Intra-op threads of the sessions made from now on (None: onnxruntime's
#: default, one per physical core); set by the thread_count context.
_ORT_THREADS: list[int | None] = [None]
_ORT_SESSIONS: dict[tuple[Any, ...], Any] = {}
#: ONNX opset of the models: Softmax/LogSoftmax with any axis (13), and
#: ReduceLogSumExp taking its axes as an input (18).
ORT_OPSET = 18


def _ort_model(op_name: str, dtype: np.dtype, ndim: int) -> bytes:
    import onnx
    from onnx import TensorProto, helper

    elem = helper.np_dtype_to_tensor_dtype(dtype)
    dims = [f"d{k}" for k in range(ndim)]
    inputs = [helper.make_tensor_value_info("x", elem, dims)]
    initializers = []
    if op_name in ("softmax", "log_softmax"):
        kind = "Softmax" if op_name == "softmax" else "LogSoftmax"
        nodes = [helper.make_node(kind, ["x"], ["out"], axis=-1)]
        out_dims: list[str] = dims
    elif op_name == "logsumexp":
        initializers = [helper.make_tensor("axes", TensorProto.INT64, [1], [-1])]
        nodes = [helper.make_node("ReduceLogSumExp", ["x", "axes"], ["out"], keepdims=0)]
        out_dims = dims[:-1]
    elif op_name == "cross_entropy":
        # (N, C) scores and (N,) labels: the layout the operator expects
        inputs.append(helper.make_tensor_value_info("y", TensorProto.INT64, dims[:-1]))
        nodes = [helper.make_node("SoftmaxCrossEntropyLoss", ["x", "y"], ["out"],
                                  reduction="mean")]
        out_dims = []
    else:
        raise KeyError(f"no onnxruntime model of {op_name!r}")
    graph = helper.make_graph(nodes, op_name, inputs,
                              [helper.make_tensor_value_info("out", elem, out_dims)],
                              initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ORT_OPSET)])
    model.ir_version = 8  # the lowest IR of opset 18: any onnxruntime that has the opset
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _ort_session(ort: Any, op_name: str, dtype: np.dtype, ndim: int) -> Any:
    key = (op_name, dtype.str, ndim, _ORT_THREADS[0])
    session = _ORT_SESSIONS.get(key)
    if session is None:
        options = ort.SessionOptions()
        if _ORT_THREADS[0] is not None:
            options.intra_op_num_threads = _ORT_THREADS[0]
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(_ort_model(op_name, dtype, ndim), options,
                                       providers=["CPUExecutionProvider"])
        _ORT_SESSIONS[key] = session
    return session


def _ort_binding(op_name: str) -> Callable[[Any], Callable[..., Any]]:
    def factory(ort: Any) -> Callable[..., Any]:
        run: Callable[..., Any] | None = None

        def call(x: np.ndarray, *labels: np.ndarray) -> Any:
            nonlocal run
            if labels and x.ndim != 2:
                x, labels = x.reshape(-1, x.shape[-1]), (labels[0].reshape(-1),)
            if run is None:  # the first call (untimed, see warm_up) makes the session
                run = _ort_session(ort, op_name, x.dtype, x.ndim).run
            feeds = {"x": x, "y": labels[0]} if labels else {"x": x}
            return run(None, feeds)[0]
        return call
    return factory


@contextlib.contextmanager
def _ort_threads(ort: Any, n: int) -> Iterator[None]:
    old = _ORT_THREADS[0]
    _ORT_THREADS[0] = n
    try:
        yield
    finally:
        _ORT_THREADS[0] = old


register_implementation(Implementation(
    "onnxruntime", "onnxruntime",
    {name: _ort_binding(name)
     for name in ("softmax", "log_softmax", "logsumexp", "cross_entropy")},
    threads=_ort_threads, requires=("onnx",), warm_up=True,
    thread_note="SessionOptions intra_op_num_threads={n}, inter_op_num_threads=1",
))


# JAX on its CPU backend: jax.jit of jax.nn / jax.scipy.special, the loss as a
# JAX user writes it without optax.  Inputs are put on the device before
# timing; the timed call waits for the result (block_until_ready); the first
# call (untimed, warm_up) compiles.  float64 inputs switch on jax_enable_x64
# (without it JAX computes in float32).  Threads: XLA's CPU client sizes its
# intra-op pool when it starts, from the environment variable PJRT_NPROC
# (default: the CPUs of the affinity mask), so the probe process gets it in its
# environment; in a running process the count cannot be changed.


def _jax_cross_entropy(jax: Any, x: Any, y: Any) -> Any:
    logp = jax.nn.log_softmax(x, axis=-1)
    picked = jax.numpy.take_along_axis(logp, y[..., None], axis=-1)
    return -jax.numpy.mean(picked)


_JAX_JITTED: dict[str, Any] = {}


def _jax_function(jax: Any, op_name: str) -> Any:
    fn = _JAX_JITTED.get(op_name)
    if fn is None:
        if op_name == "softmax":
            fn = jax.jit(lambda x: jax.nn.softmax(x, axis=-1))
        elif op_name == "log_softmax":
            fn = jax.jit(lambda x: jax.nn.log_softmax(x, axis=-1))
        elif op_name == "logsumexp":
            special = importlib.import_module("jax.scipy.special")  # a submodule of the bound jax
            fn = jax.jit(lambda x: special.logsumexp(x, axis=-1))
        elif op_name == "cross_entropy":
            fn = jax.jit(lambda x, y: _jax_cross_entropy(jax, x, y))
        elif op_name == "cross_entropy_and_grad":
            fn = jax.jit(jax.value_and_grad(lambda x, y: _jax_cross_entropy(jax, x, y)))
        else:
            raise KeyError(f"no JAX version of {op_name!r}")
        _JAX_JITTED[op_name] = fn
    return fn


def _jax_binding(op_name: str) -> Callable[[Any], Any]:
    return lambda jax: _jax_function(jax, op_name)


def _jax_convert(jax: Any, array: np.ndarray) -> Any:
    if array.dtype == np.float64 and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    if array.dtype.kind == "i" and not jax.config.jax_enable_x64:
        array = array.astype(np.int32)  # what JAX would make of it, without its warning
    return jax.device_put(array)


def _jax_ready(result: Any) -> Any:
    if isinstance(result, tuple):
        return tuple(r.block_until_ready() for r in result)
    return result.block_until_ready()


def _jax_environ(n: int) -> dict[str, str]:
    return {"PJRT_NPROC": str(n)}


register_implementation(Implementation(
    "jax", "jax",
    {name: _jax_binding(name) for name in ("softmax", "log_softmax", "logsumexp",
                                           "cross_entropy", "cross_entropy_and_grad")},
    convert=_jax_convert, finish=_jax_ready, environ=_jax_environ, warm_up=True,
    thread_note=("PJRT_NPROC={n} in its environment, which sizes XLA's CPU thread pool "
                 "at start-up (XLA_FLAGS' Eigen threading options do not limit it)"),
))


# --------------------------------------------------------------------------
# using an implementation


def available(impl_name: str) -> bool:
    """Whether an implementation's library (and every module of its
    ``requires``) is installed, without importing it."""
    impl = IMPLEMENTATIONS[impl_name]
    return all(importlib.util.find_spec(name.partition(".")[0]) is not None
               for name in (impl.module, *impl.requires))


def default_implementations() -> list[str]:
    """Names of the implementations timed by default, in column order."""
    return [name for name, impl in IMPLEMENTATIONS.items() if impl.default]


def version(impl_name: str) -> str | None:
    """An implementation's installed version, from the package metadata (so
    without importing it); None if not installed."""
    impl = IMPLEMENTATIONS[impl_name]
    try:
        return importlib.metadata.version(impl.distribution or impl.module.partition(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return None


def bind(op_name: str, impl_name: str, args: tuple[Any, ...]) -> Callable[[], Any] | None:
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
        Thread counts are the library's current ones: see :func:`thread_count`
        (an implementation with ``warm_up`` makes its first call here, so its
        session or compiled code has the thread count current at bind time).
    """
    impl = IMPLEMENTATIONS[impl_name]
    factory = impl.bindings.get(op_name)
    if factory is None or not available(impl_name):
        return None
    module = importlib.import_module(impl.module)
    fn = factory(module)
    native = tuple(impl.convert(module, a) for a in args)
    finish = impl.finish
    call: Callable[[], Any] = ((lambda: fn(*native)) if finish is None
                               else (lambda: finish(fn(*native))))
    if impl.warm_up:
        call()
    return call


def thread_count(impl_name: str, n: int) -> contextlib.AbstractContextManager[Any]:
    """Context manager running ``impl_name``'s library with ``n`` threads."""
    impl = IMPLEMENTATIONS[impl_name]
    return impl.threads(importlib.import_module(impl.module), n)
