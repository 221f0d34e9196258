"""fastsoftmax for PyTorch CPU tensors, with autograd.

Drop-ins for ``torch.nn.functional``'s ``cross_entropy``, ``softmax``,
``log_softmax``, ``binary_cross_entropy_with_logits`` and ``kl_div``, for
``torch.logsumexp`` and for ``torchvision.ops.sigmoid_focal_loss``, plus
``linear_cross_entropy`` (the language-model head and its loss without the
logits), ``focal_loss`` (the softmax focal loss), ``distillation_loss``
(knowledge distillation, fused) and ``softmax_backward`` /
``log_softmax_backward`` (PyTorch's ``_softmax_backward_data`` /
``_log_softmax_backward_data``), computed by fastsoftmax's compiled kernels.
Each is a real PyTorch operator (``torch.ops.fastsoftmax.*``, registered with
``torch.library.custom_op``) with a shape-only fake implementation and a
registered backward (the two backwards have none: they refuse inputs that
require grad), so it works with ``loss.backward()``, ``torch.autograd.grad``,
``torch.autograd.gradcheck`` and ``torch.compile``.

* **No copies.** Tensors are handed to the NumPy layer as ``tensor.numpy()``
  views and results come back as ``torch.from_numpy`` of the arrays it
  allocates; neither side copies (the NumPy layer copies only what its
  kernels need: rows that are not contiguous, or float16 computed in
  float32).
* **One pass for loss and gradient.** When the logits require a gradient the
  cross-entropy's forward call computes the loss and ``dL/dlogits`` together
  (:func:`fastsoftmax.cross_entropy_and_grad`) and keeps the gradient; the
  backward only scales it by the incoming gradient (and returns it as it is
  when that is exactly 1, as after ``loss.backward()``).  The other losses
  do the same (``kl_div``, whose gradient is elementwise, computes it in the
  backward instead), and the softmax family's backwards run the compiled
  backward kernels.
* **CPU only.** Tensors on any other device (CUDA, ``meta``, ...) raise
  ``ValueError``; nothing is ever moved to the CPU behind your back.
  Dtypes: float32 and float64; float16 is computed in float32 and returned
  as float16 (as everywhere in fastsoftmax); bfloat16 tensors are read by
  the kernels (as their 16-bit codes, without a copy) in ``softmax``,
  ``log_softmax``, ``logsumexp`` and ``cross_entropy``, and raise
  ``TypeError`` elsewhere (convert with ``.float()`` yourself), as integer
  inputs do.

Where the answers differ from PyTorch's (special values, ignored samples
holding NaN, ...) they are fastsoftmax's, see docs/semantics.md, section
"PyTorch front end".  Requires the ``torch`` extra:
``pip install 'fastsoftmax[torch]'``.

Examples
--------
>>> import torch
>>> import fastsoftmax.torch as fst
>>> logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], requires_grad=True)
>>> loss = fst.cross_entropy(logits, torch.tensor([0, 1]))
>>> round(loss.item(), 5)
0.31854
>>> loss.backward()
>>> logits.grad
tensor([[-0.1705,  0.1212,  0.0493],
        [ 0.0543, -0.0988,  0.0445]])
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastsoftmax.torch needs PyTorch: pip install 'fastsoftmax[torch]' (or torch); "
        f"the import failed with: {exc}") from exc

from . import backward as _backward
from . import divergence as _divergence
from . import focal as _focal
from . import linear as _linear
from . import losses as _losses
from .softmax import log_softmax as _np_log_softmax
from .softmax import logsumexp as _np_logsumexp
from .softmax import softmax as _np_softmax
from ._validation import check_int, check_reduction
from . import _core, _crossentropy
from ._halfprec import BFLOAT16
from ._rows import RowsProblem
from ._threads import resolve

__all__ = ["cross_entropy", "linear_cross_entropy", "softmax", "log_softmax", "logsumexp",
           "binary_cross_entropy_with_logits", "focal_loss", "sigmoid_focal_loss", "kl_div",
           "distillation_loss", "softmax_backward", "log_softmax_backward"]

Tensor = Any  # torch.Tensor: torch is not followed by the type checker

_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_NP_DTYPES: dict[Any, np.dtype[Any]] = {
    torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64),
    torch.float16: np.dtype(np.float16), torch.bfloat16: np.dtype(np.uint16)}


# ------------------------------------------------------------------ tensors

def _check_tensor(t: object, name: str, fn: str, *, floating: bool = True,
                  bf16: bool = False) -> None:
    """``t`` must be a strided CPU tensor (of a supported float dtype when
    ``floating``; bfloat16 only where ``bf16``: the functions whose kernels
    read it): anything else is an error, never a silent copy."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(
            f"{fn}: {name} is on device '{t.device}'; fastsoftmax.torch computes on CPU "
            "tensors only (use torch.nn.functional for other devices; nothing is copied "
            "to the CPU implicitly)")
    if t.layout != torch.strided:
        raise ValueError(f"{fn}: {name} must be a dense (strided) tensor, got layout "
                         f"{t.layout}")
    if floating and (t.dtype not in _FLOATS or (t.dtype == torch.bfloat16 and not bf16)):
        hint = (" (bfloat16 is read by softmax, log_softmax, logsumexp and cross_entropy "
                "only: convert with .float())" if t.dtype == torch.bfloat16 else "")
        raise TypeError(f"{fn}: {name} must be float32, float64 or float16, got "
                        f"{t.dtype}{hint}")


def _no_grad_needed(t: Tensor | None, name: str, fn: str) -> None:
    """fastsoftmax has no gradient w.r.t. ``t``: asking for one is an error
    (returning none would silently leave it at zero)."""
    if t is not None and t.requires_grad and torch.is_grad_enabled():
        raise NotImplementedError(
            f"{fn}: no gradient with respect to {name} (it requires grad); pass "
            f"{name}.detach(), or use torch.nn.functional for that gradient")


def _same_dtype(ref: Tensor, t: Tensor | None, name: str, ref_name: str, fn: str) -> None:
    if t is not None and t.is_floating_point() and t.dtype != ref.dtype:
        raise TypeError(f"{fn}: {name} has dtype {t.dtype} but {ref_name} has "
                        f"{ref.dtype}; they must match")


def _np(t: Tensor) -> np.ndarray[Any, Any]:
    """A NumPy view of a CPU tensor (shares memory, any strides)."""
    view: np.ndarray[Any, Any] = t.detach().numpy()
    return view


def _codes(t: Tensor) -> np.ndarray[Any, Any]:
    """The uint16 codes of a bfloat16 tensor (NumPy has no bfloat16), a view."""
    codes: np.ndarray[Any, Any] = t.detach().view(torch.int16).numpy().view(np.uint16)
    return codes


def _bf16(t: Tensor) -> bool:
    return bool(t.dtype == torch.bfloat16)


def _rows_bf16(kernel: Any, input: Tensor, dim: int) -> Tensor:
    """softmax / log_softmax (``kernel``: the float driver) of a bfloat16
    tensor, read by the 16-bit drivers as its codes: no float32 copy."""
    x = _codes(input)
    res = _empty_like(input)
    if x.size:
        RowsProblem(x, dim, np.dtype(np.uint16), kind=BFLOAT16).elementwise(
            kernel, res, resolve(None, x.size))
    return _tensor(res).view(torch.bfloat16)


def _logsumexp_bf16(x: np.ndarray[Any, Any], axis: int) -> np.ndarray[Any, Any]:
    """The logsumexp codes over ``axis`` of bfloat16 codes ``x``."""
    p = RowsProblem(x, axis, np.dtype(np.uint16), kind=BFLOAT16)
    flat = p.logsumexp(None, resolve(None, x.size))
    return flat.reshape([n for d, n in enumerate(x.shape) if d != axis])


def _opt_np(t: Tensor | None) -> np.ndarray[Any, Any] | None:
    return None if t is None else _np(t)


def _tensor(a: Any) -> Tensor:
    """A NumPy result as a tensor, without copying (0-d results included)."""
    return torch.from_numpy(np.asarray(a))


def _tensor_as(a: Any, dtype: Any) -> Tensor:
    """A NumPy result as a tensor of ``dtype``: bfloat16 from uint16 codes
    (a view) or from a float32 loss (rounded)."""
    t = _tensor(a)
    if dtype == torch.bfloat16:
        return t.view(dtype) if t.dtype == torch.uint16 else t.to(dtype)
    return t


def _empty_like(t: Tensor) -> np.ndarray[Any, Any]:
    """A NumPy array for a result of ``t``'s shape, dtype and layout (the
    strides ``torch.empty_like`` would choose), allocated by NumPy: its
    large allocations are backed by huge pages where the system allows,
    which makes the first write several times faster than into a fresh
    torch allocation."""
    like = torch.empty_like(t, device="meta")  # the layout only: nothing allocated
    dtype = _NP_DTYPES[t.dtype]
    if like.is_contiguous():
        return np.empty(tuple(t.shape), dtype=dtype)
    flat = np.empty(t.numel(), dtype=dtype)
    return np.lib.stride_tricks.as_strided(
        flat, tuple(t.shape), tuple(s * dtype.itemsize for s in like.stride()))


def _wants_grad(*ts: Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in ts)


def _is_one(g: Tensor) -> bool:
    """Whether the incoming gradient is exactly the scalar 1 (eager only:
    under tracing its value is unknown)."""
    return (type(g) is torch.Tensor and g.numel() == 1 and not torch.compiler.is_compiling()
            and bool(g.item() == 1))


def _real(value: object, name: str, lo: float, hi: float | None = None, *,
          open_lo: bool = False) -> float:
    """A real scalar option in range, checked as the NumPy layer checks it
    (the same messages) but in plain Python, which ``torch.compile`` traces."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)  # type: ignore[arg-type]  # NumPy scalars, 0-d tensors
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if hi is None:
        if not ((v > lo if open_lo else v >= lo) and math.isfinite(v)):
            raise ValueError(f"{name} must be finite and {'>' if open_lo else '>='} {lo:g}, "
                             f"got {v}")
    elif not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {v}")
    return v


def _first_order(backward: Any) -> Any:
    """For the backwards that scale a gradient kept from the forward: that
    gradient is a constant to autograd, so a second derivative through it
    would silently be missing.  Under ``create_graph=True`` the returned
    gradients are therefore marked so that differentiating them raises
    (unlike ``once_differentiable``, also when the incoming gradient does
    not itself require grad)."""
    @functools.wraps(backward)
    def wrapper(ctx: Any, *grads: Any) -> tuple[Any, ...]:
        with torch.no_grad():
            out = backward(ctx, *grads)
        if not torch.is_grad_enabled():
            return out  # type: ignore[no-any-return]
        tensors = [i for i, t in enumerate(out) if isinstance(t, torch.Tensor)]
        err = torch._C._functions.DelayedError(
            b"fastsoftmax.torch: the losses have no second derivative (their backward "
            b"scales the gradient computed in the forward); use torch.nn.functional "
            b"for double backward", len(tensors))
        marked = err(*[out[i].detach().requires_grad_() for i in tensors])
        marked = marked if isinstance(marked, tuple) else (marked,)
        res = list(out)
        for i, t in zip(tensors, marked):
            res[i] = t
        return tuple(res)
    return wrapper


def _class_dim(ndim: int) -> int:
    """torch's class dimension: 1, or 0 for 1-D input (one sample)."""
    return 1 if ndim >= 2 else 0


def _scale_saved(g: Tensor, saved: Tensor, reduction: str, dim: int) -> Tensor:
    """The backward of a loss whose (per-sample) gradient ``saved`` was
    computed in the forward: every sample's loss depends on its own row only,
    so for "none" each row is scaled by its own incoming gradient."""
    if g is None:  # not materialised: nothing flows back through the loss
        return None
    if reduction == "none":
        return g.unsqueeze(dim) * saved if g.dim() < saved.dim() else g * saved
    if _is_one(g):
        return saved
    return g * saved


class _Operator:
    """``torch.ops.fastsoftmax.<name>``, registered: its CPU implementation
    (``impl``, on NumPy views), the fake one (shapes and dtypes only, for
    ``torch.compile``, ``torch.export`` and fake tensors) and its backward,
    if it has one (one without takes no input that requires grad: its front
    end refuses them).

    Calling it runs the operator, except in plain eager mode (not tracing, no
    ``__torch_dispatch__`` mode, plain tensors), where the same ``impl``,
    ``setup_context`` and ``backward`` run as a ``torch.autograd.Function``
    (``impl`` alone without a backward): the same results, without the
    operator dispatch's Python overhead (about half a millisecond a call,
    which dominates small batches).
    """

    def __init__(self, name: str, schema: str, impl: Callable[..., Any],
                 fake: Callable[..., Any], backward: Callable[..., Any] | None = None,
                 setup_context: Callable[..., None] | None = None) -> None:
        self.op: Any = torch.library.custom_op(f"fastsoftmax::{name}", impl, mutates_args=(),
                                               device_types="cpu", schema=schema)
        self.op.register_fake(fake)
        self.function: Any = None
        if backward is None:  # no gradient: the front end refuses inputs needing one
            self.impl = impl
            return
        assert setup_context is not None
        self.op.register_autograd(backward, setup_context=setup_context)
        def forward(ctx: Any, *args: Any) -> Any:
            # setup_context called here, not declared: Function.apply binds
            # the arguments with inspect.signature on every call otherwise
            output = impl(*args)
            setup_context(ctx, args, output)
            return output

        self.function = type(f"{name}_function", (torch.autograd.Function,), {
            "forward": staticmethod(forward), "backward": staticmethod(backward)})

    def __call__(self, *args: Any) -> Any:
        if (torch.compiler.is_compiling() or torch._C._len_torch_dispatch_stack()
                or any(isinstance(a, torch.Tensor) and type(a) is not torch.Tensor
                       for a in args)):
            return self.op(*args)
        if self.function is None:
            return self.impl(*args)
        return self.function.apply(*args)


_operator = _Operator


# ------------------------------------------------------------------ cross-entropy

def _cross_entropy_impl(input: Tensor, target: Tensor, weight: Tensor | None,
                      ignore_index: int, reduction: str, label_smoothing: float,
                      z_loss: float, softcap: float | None, with_grad: bool
                      ) -> tuple[Tensor, Tensor]:
    if _bf16(input) and (target.is_floating_point() or softcap is not None):
        # probability targets, softcap: the float32 route (torch's rounding back)
        loss, grad = _cross_entropy_impl(input.float(), target.float()
                                         if target.is_floating_point() else target,
                                         None if weight is None else weight.float(),
                                         ignore_index, reduction, label_smoothing, z_loss,
                                         softcap, with_grad)
        return loss.to(torch.bfloat16), grad.to(torch.bfloat16)
    if _bf16(input) and weight is not None:
        weight = weight.float()  # (C,): the float32 class weights the kernel takes
    kw: dict[str, Any] = dict(
        axis=_class_dim(input.dim()), weight=_opt_np(weight), ignore_index=ignore_index,
        reduction=reduction, label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap)
    if _bf16(input):
        # read as 16-bit codes by the kernels; the loss in float32, then bfloat16 (torch's)
        grad_codes = _empty_like(input) if with_grad else None
        loss = _crossentropy.cross_entropy(
            _codes(input), _np(target), num_threads=None, want_grad=with_grad,
            grad_out=grad_codes, codes_kind=BFLOAT16, **kw)
        if with_grad:
            loss = loss[0]
        return (_tensor_as(loss, torch.bfloat16),
                input.new_empty(0) if grad_codes is None
                else _tensor_as(grad_codes, torch.bfloat16))
    if with_grad:
        # the gradient in the input's layout (as autograd wants x.grad): the
        # kernel writes into it
        grad = _empty_like(input)
        loss, _ = _losses.cross_entropy_and_grad(_np(input), _np(target), grad_out=grad,
                                                 **kw)
        return _tensor(loss), _tensor(grad)
    loss = _losses.cross_entropy(_np(input), _np(target), **kw)
    return _tensor(loss), input.new_empty(0)


def _cross_entropy_fake(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
      reduction: str, label_smoothing: float, z_loss: float, softcap: float | None,
      with_grad: bool) -> tuple[Tensor, Tensor]:
    dim = _class_dim(input.dim())
    shape = (input.shape[:dim] + input.shape[dim + 1:]) if reduction == "none" else ()
    grad = torch.empty_like(input) if with_grad else input.new_empty(0)
    return input.new_empty(shape), grad


def _ce_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
    ctx.save_for_backward(output[1])
    ctx.reduction, ctx.dim = inputs[4], _class_dim(inputs[0].dim())
    ctx.with_grad = inputs[8]
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)  # no zeros of the kept gradient's size


@_first_order
def _ce_backward(ctx: Any, g: Tensor, _g_grad: Tensor | None) -> tuple[Any, ...]:
    (saved,) = ctx.saved_tensors
    if not ctx.with_grad:  # pragma: no cover - the front end asks for it
        raise RuntimeError("fastsoftmax.torch.cross_entropy: no gradient was computed")
    return (_scale_saved(g, saved, ctx.reduction, ctx.dim),) + (None,) * 8


_cross_entropy_op = _operator(
    "cross_entropy", "(Tensor input, Tensor target, Tensor? weight, int ignore_index, "
    "str reduction, float label_smoothing, float z_loss, float? softcap, bool with_grad) "
    "-> (Tensor, Tensor)", _cross_entropy_impl, _cross_entropy_fake, _ce_backward, _ce_setup)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0, z_loss: float = 0.0,
                  softcap: float | None = None) -> Tensor:
    """``torch.nn.functional.cross_entropy`` by the fused kernel.

    Same definition, shapes and defaults as PyTorch: ``input`` is ``(C,)``,
    ``(N, C)`` or ``(N, C, d1, ...)`` (classes on dim 1), ``target`` holds
    class indices (any integer dtype; the shape without the class dim) or
    class probabilities (the shape of ``input``).  The arguments after
    ``weight`` are keyword-only (PyTorch's positional order has the
    deprecated ``size_average`` / ``reduce`` in between).  ``z_loss`` and
    ``softcap`` are fastsoftmax's (see :func:`fastsoftmax.cross_entropy`).

    When ``input`` requires grad, the forward computes the gradient too, in
    the same pass, and keeps it until the backward (memory: one tensor of the
    logits' size).  No gradient flows to ``target`` or ``weight``: passing
    ones that require grad raises ``NotImplementedError``.

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import cross_entropy
    >>> x = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=torch.float64,
    ...                  requires_grad=True)
    >>> loss = cross_entropy(x, torch.tensor([0, -100]), reduction="none")
    >>> loss.detach()
    tensor([0.4170, 0.0000], dtype=torch.float64)
    >>> loss.sum().backward()
    >>> x.grad[0]
    tensor([-0.3410,  0.2424,  0.0986], dtype=torch.float64)
    """
    fn = "cross_entropy"
    _check_tensor(input, "input", fn, bf16=True)
    _check_tensor(target, "target", fn, floating=False)
    if weight is not None:
        _check_tensor(weight, "weight", fn, bf16=True)
    _no_grad_needed(target, "target", fn)
    _no_grad_needed(weight, "weight", fn)
    _same_dtype(input, target, "target", "input", fn)
    _same_dtype(input, weight, "weight", "input", fn)
    reduction = check_reduction(reduction)
    ignore_index = check_int(ignore_index, "ignore_index")
    label_smoothing = _real(label_smoothing, "label_smoothing", 0.0, 1.0)
    z_loss = _real(z_loss, "z_loss", 0.0)
    if softcap is not None:
        softcap = _real(softcap, "softcap", 0.0, open_lo=True)
    if input.dim() == 0:
        raise ValueError(f"{fn}: input must have at least one dimension (the classes)")
    loss, _ = _cross_entropy_op(input, target, weight, ignore_index, reduction,
                                label_smoothing, z_loss, softcap, _wants_grad(input))
    return loss


# ------------------------------------------------------------------ the softmax family

def _softmax_impl(input: Tensor, dim: int) -> Tensor:
    if _bf16(input):
        return _rows_bf16(_core.softmax, input, dim)
    return _tensor(_np_softmax(_np(input), dim))


def _log_softmax_impl(input: Tensor, dim: int) -> Tensor:
    if _bf16(input):
        return _rows_bf16(_core.log_softmax, input, dim)
    return _tensor(_np_log_softmax(_np(input), dim))


def _same_shape_fake(input: Tensor, dim: int) -> Tensor:
    return input.new_empty(input.shape)


def _save_output(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    ctx.save_for_backward(output)
    ctx.dim = inputs[1]


def _backward_impl(name: str) -> Callable[..., Tensor]:
    """The CPU implementation of a softmax backward operator: the NumPy
    function ``name`` (:func:`fastsoftmax.softmax_backward` or
    ``log_softmax_backward``) on NumPy views."""
    def impl(grad_output: Tensor, output: Tensor, dim: int) -> Tensor:
        kernel = getattr(_backward, name)
        return _tensor(kernel(_np(grad_output), _np(output), axis=dim))
    impl.__name__ = f"_{name}_impl"
    return impl


def _backward_fake(grad_output: Tensor, output: Tensor, dim: int) -> Tensor:
    return grad_output.new_empty(grad_output.shape)


_softmax_backward_op = _operator(
    "softmax_backward", "(Tensor grad_output, Tensor output, int dim) -> Tensor",
    _backward_impl("softmax_backward"), _backward_fake)
_log_softmax_backward_op = _operator(
    "log_softmax_backward", "(Tensor grad_output, Tensor output, int dim) -> Tensor",
    _backward_impl("log_softmax_backward"), _backward_fake)


def _by_kernel(g: Tensor, y: Tensor) -> bool:
    """Whether a softmax family backward runs the compiled kernel: when no
    graph of the backward is being built (grad mode is on in a backward only
    under ``create_graph=True``, where the torch operations below are
    differentiated in turn) and the kernel reads the dtype (not bfloat16)."""
    return not torch.is_grad_enabled() and g.dtype == y.dtype and not _bf16(y)


def _softmax_backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
    (y,) = ctx.saved_tensors
    if _by_kernel(g, y):
        return _softmax_backward_op(g, y, ctx.dim), None
    # y (g - sum(g y)): torch ops on the saved output, so it differentiates again
    gy = g * y
    return gy - y * gy.sum(ctx.dim, keepdim=True), None


def _log_softmax_backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
    (y,) = ctx.saved_tensors
    if _by_kernel(g, y):
        return _log_softmax_backward_op(g, y, ctx.dim), None
    # g - softmax sum(g), softmax = exp(y)
    return g - torch.exp(y) * g.sum(ctx.dim, keepdim=True), None


_softmax_op = _operator("softmax", "(Tensor input, int dim) -> Tensor", _softmax_impl,
                        _same_shape_fake, _softmax_backward, _save_output)
_log_softmax_op = _operator("log_softmax", "(Tensor input, int dim) -> Tensor",
                            _log_softmax_impl, _same_shape_fake, _log_softmax_backward,
                            _save_output)


def _dim(dim: object, ndim: int, fn: str) -> int:
    """One dimension in range (as torch: 0-d tensors take -1 and 0)."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        try:
            dim = check_int(dim, "dim")
        except TypeError:
            raise TypeError(f"{fn}: dim must be an integer, got {dim!r}") from None
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{fn}: dim {dim} is out of range for a tensor of {ndim} "
                         f"dimension{'s' if ndim != 1 else ''}")
    return dim % n


def softmax(input: Tensor, dim: int) -> Tensor:
    """``torch.softmax(input, dim)`` by fastsoftmax's kernel.

    ``dim`` is required (PyTorch's implicit choice is deprecated).  The
    result has ``input``'s shape and dtype.  The backward,
    ``y * (g - sum(g * y))`` on the saved output, runs the compiled kernel
    (:func:`softmax_backward`); under ``create_graph=True`` it is computed in
    torch operations instead, so higher derivatives work too.  Special
    values are SciPy's (docs/semantics.md, section "Softmax family: special
    values"), which here agree with PyTorch's.

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import softmax
    >>> softmax(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), dim=1)
    tensor([[0.0900, 0.2447, 0.6652],
            [0.3333, 0.3333, 0.3333]])
    """
    _check_tensor(input, "input", "softmax", bf16=True)
    return _softmax_op(input, _dim(dim, input.dim(), "softmax"))


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """``torch.log_softmax(input, dim)`` by fastsoftmax's kernel.

    ``dim`` is required.  Computed as ``(x - max) - log1p(others)``, more
    accurate than PyTorch near 0 (docs/semantics.md); special values are
    SciPy's: ``log_softmax([1, inf])`` is ``[-inf, nan]`` where PyTorch gives
    ``[nan, nan]``.  The backward, ``g - exp(y) * sum(g)``, runs the compiled
    kernel (:func:`log_softmax_backward`), or torch operations under
    ``create_graph=True`` (higher derivatives).

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import log_softmax
    >>> log_softmax(torch.tensor([0.0, -40.0], dtype=torch.float64), dim=0)[0].item()
    -4.248354255291589e-18
    """
    _check_tensor(input, "input", "log_softmax", bf16=True)
    return _log_softmax_op(input, _dim(dim, input.dim(), "log_softmax"))


def _check_backward(grad_output: Tensor, output: Tensor, dim: object, fn: str) -> int:
    _check_tensor(grad_output, "grad_output", fn)
    _check_tensor(output, "output", fn)
    _same_dtype(grad_output, output, "output", "grad_output", fn)
    if grad_output.shape != output.shape:
        raise ValueError(f"{fn}: output has shape {tuple(output.shape)}, expected "
                         f"{tuple(grad_output.shape)} (the shape of grad_output)")
    _no_grad_needed(grad_output, "grad_output", fn)
    _no_grad_needed(output, "output", fn)
    return _dim(dim, output.dim(), fn)


def softmax_backward(grad_output: Tensor, output: Tensor, dim: int) -> Tensor:
    """The backward of :func:`softmax`, ``y * (g - sum(g * y))``, by the kernel.

    PyTorch's ``torch._softmax_backward_data(grad_output, output, dim,
    output.dtype)`` by :func:`fastsoftmax.softmax_backward`: ``y`` is
    ``output``, the softmax along ``dim``, ``g`` is ``grad_output``, the
    gradient with respect to it, and the result is the gradient with respect
    to the softmax's input.  Both tensors have one shape and one dtype
    (float32, float64, or float16, computed in float32; bfloat16 raises
    ``TypeError``); the sum is accumulated in double.  It has no gradient
    itself: inputs that require grad raise ``NotImplementedError``
    (:func:`softmax`'s own backward differentiates again).

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import softmax, softmax_backward
    >>> y = softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), dim=0)
    >>> softmax_backward(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), y, dim=0)
    tensor([-0.0599, -0.1628,  0.2227], dtype=torch.float64)
    """
    dim = _check_backward(grad_output, output, dim, "softmax_backward")
    return _softmax_backward_op(grad_output, output, dim)


def log_softmax_backward(grad_output: Tensor, output: Tensor, dim: int) -> Tensor:
    """The backward of :func:`log_softmax`, ``g - exp(y) * sum(g)``, by the kernel.

    PyTorch's ``torch._log_softmax_backward_data(grad_output, output, dim,
    output.dtype)`` by :func:`fastsoftmax.log_softmax_backward`, ``y`` being
    ``output``, the log-softmax along ``dim``, and ``g`` ``grad_output``;
    arguments, dtypes and errors as :func:`softmax_backward`.

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import log_softmax, log_softmax_backward
    >>> y = log_softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), dim=0)
    >>> log_softmax_backward(torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64), y, dim=0)
    tensor([ 0.0900,  0.2447, -0.3348], dtype=torch.float64)
    """
    dim = _check_backward(grad_output, output, dim, "log_softmax_backward")
    return _log_softmax_backward_op(grad_output, output, dim)


def _logsumexp_impl(input: Tensor, dim: list[int], keepdim: bool) -> Tensor:
    bf16 = _bf16(input)
    x = _codes(input) if bf16 else _np(input)
    if bf16 and x.ndim == 0:
        return _tensor_as(_logsumexp_bf16(x.reshape(1), 0).reshape(()), input.dtype)
    if len(dim) == 1 and not bf16:
        return _tensor(_np_logsumexp(x, dim[0], keepdims=keepdim))
    # several dims: moved last and merged into one (a copy only if the
    # layout needs one, as the kernels need contiguous rows anyway)
    rest = [d for d in range(x.ndim) if d not in dim]
    moved = x.transpose(rest + list(dim))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    res = (_logsumexp_bf16(flat, flat.ndim - 1) if bf16
           else np.asarray(_np_logsumexp(flat, -1)))
    if keepdim:
        res = res.reshape([1 if d in dim else n for d, n in enumerate(x.shape)])
    return _tensor_as(res, input.dtype)


def _reduced_shape(shape: Sequence[int], dim: Sequence[int], keepdim: bool) -> list[int]:
    if keepdim:
        return [1 if d in dim else n for d, n in enumerate(shape)]
    return [n for d, n in enumerate(shape) if d not in dim]


def _logsumexp_fake(input: Tensor, dim: list[int], keepdim: bool) -> Tensor:
    if input.dim() == 0:
        return input.new_empty(())
    return input.new_empty(_reduced_shape(input.shape, dim, keepdim))


def _logsumexp_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    ctx.save_for_backward(inputs[0], output)
    ctx.dim, ctx.keepdim = inputs[1], inputs[2]


def _logsumexp_backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
    # g exp(x - lse), as torch: torch ops, so it differentiates again
    x, lse = ctx.saved_tensors
    if x.dim() and not ctx.keepdim:
        for d in sorted(ctx.dim):
            g, lse = g.unsqueeze(d), lse.unsqueeze(d)
    return g * torch.exp(x - lse), None, None


_logsumexp_op = _operator("logsumexp", "(Tensor input, int[] dim, bool keepdim) -> Tensor",
                          _logsumexp_impl, _logsumexp_fake, _logsumexp_backward,
                          _logsumexp_setup)


def logsumexp(input: Tensor, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
    """``torch.logsumexp(input, dim, keepdim)`` by fastsoftmax's kernel.

    ``dim``: one dimension or several (reduced together).  Computed as
    ``max + log1p(others)`` (``logsumexp([0, -40])`` is 4.2e-18, PyTorch
    gives 0); special values are SciPy's.  The backward is
    ``g * exp(x - lse)``, as PyTorch's.

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import logsumexp
    >>> logsumexp(torch.tensor([[0.0, 0.0], [1e4, 1e4]], dtype=torch.float64), dim=1)
    tensor([6.9315e-01, 1.0001e+04], dtype=torch.float64)
    """
    fn = "logsumexp"
    _check_tensor(input, "input", fn, bf16=True)
    dims = [dim] if isinstance(dim, int) else list(dim)
    if not dims:
        raise ValueError(f"{fn}: dim must name at least one dimension")
    norm = [_dim(d, input.dim(), fn) for d in dims]
    if len(set(norm)) != len(norm):
        raise ValueError(f"{fn}: dim {tuple(dims)} names a dimension twice")
    if input.dim() == 0:
        norm = [0]
    return _logsumexp_op(input, sorted(norm), bool(keepdim))


# ------------------------------------------------------------------ binary cross-entropy

def _bce_logits_impl(input: Tensor, target: Tensor, weight: Tensor | None,
                   pos_weight: Tensor | None, reduction: str, with_grad: bool
                   ) -> tuple[Tensor, Tensor]:
    kw: dict[str, Any] = dict(weight=_opt_np(weight), pos_weight=_opt_np(pos_weight),
                              reduction=reduction)
    if with_grad:
        loss, grad = _losses.binary_cross_entropy_with_logits_and_grad(
            _np(input), _np(target), **kw)
        return _tensor(loss), _tensor(grad)
    loss = _losses.binary_cross_entropy_with_logits(_np(input), _np(target), **kw)
    return _tensor(loss), input.new_empty(0)


def _bce_logits_fake(input: Tensor, target: Tensor, weight: Tensor | None,
                     pos_weight: Tensor | None, reduction: str, with_grad: bool
                     ) -> tuple[Tensor, Tensor]:
    shape = input.shape if reduction == "none" else ()
    return input.new_empty(shape), input.new_empty(input.shape if with_grad else (0,))


def _elementwise_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
    """setup_context of the elementwise losses with a kept gradient, whose
    six inputs have the reduction fifth (binary_cross_entropy_with_logits,
    sigmoid_focal_loss)."""
    ctx.save_for_backward(output[1])
    ctx.reduction = inputs[4]
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)  # no zeros of the kept gradient's size


@_first_order
def _elementwise_backward(ctx: Any, g: Tensor, _g_grad: Tensor | None) -> tuple[Any, ...]:
    (saved,) = ctx.saved_tensors
    # elementwise: for "none", g has the input's shape
    return (_scale_saved(g, saved, ctx.reduction, 0),) + (None,) * 5


_bce_logits_op = _operator(
    "binary_cross_entropy_with_logits", "(Tensor input, Tensor target, Tensor? weight, "
    "Tensor? pos_weight, str reduction, bool with_grad) -> (Tensor, Tensor)",
    _bce_logits_impl, _bce_logits_fake, _elementwise_backward, _elementwise_setup)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, *,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """``torch.nn.functional.binary_cross_entropy_with_logits`` by fastsoftmax.

    The stable form ``w ((1 - t) x + (1 + (pw - 1) t) softplus(-x))``
    (:func:`fastsoftmax.binary_cross_entropy_with_logits`); ``target`` has
    ``input``'s shape; ``weight`` and ``pos_weight`` broadcast to it without
    enlarging it.  The arguments after ``weight`` are keyword-only.  With
    ``input`` requiring grad the forward also computes the gradient and the
    backward scales it.  No gradient flows to ``target``, ``weight`` or
    ``pos_weight`` (``NotImplementedError`` if they require grad).

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import binary_cross_entropy_with_logits as bce
    >>> x = torch.tensor([100.0, -2.0], requires_grad=True)
    >>> loss = bce(x, torch.tensor([1.0, 0.0]))
    >>> round(loss.item(), 6)
    0.063464
    >>> loss.backward()
    >>> x.grad
    tensor([0.0000, 0.0596])
    """
    fn = "binary_cross_entropy_with_logits"
    _check_tensor(input, "input", fn)
    _check_tensor(target, "target", fn, floating=False)
    for name, t in (("target", target), ("weight", weight), ("pos_weight", pos_weight)):
        if t is not None:
            if name != "target":
                _check_tensor(t, name, fn, floating=False)
            _no_grad_needed(t, name, fn)
    reduction = check_reduction(reduction)
    loss, _ = _bce_logits_op(input, target, weight, pos_weight, reduction, _wants_grad(input))
    return loss


# ------------------------------------------------------------------ focal losses

def _integer_target(target: Tensor, name: str, fn: str) -> None:
    """Class indices: a CPU tensor of an integer dtype."""
    _check_tensor(target, name, fn, floating=False)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"{fn}: {name} must hold integer class indices, got dtype "
                        f"{target.dtype}")


def _same_shape(ref: Tensor, t: Tensor, name: str, ref_name: str, fn: str) -> None:
    if t.shape != ref.shape:
        raise ValueError(f"{fn}: {name} has shape {tuple(t.shape)}, expected "
                         f"{tuple(ref.shape)} (the shape of {ref_name})")


def _finite(value: object, name: str, what: str = "a real number") -> float:
    """A finite real scalar option (the NumPy layer's messages), in plain Python."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    try:
        v = float(value)  # type: ignore[arg-type]  # NumPy scalars, 0-d tensors
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {what}, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def _loss_fake(input: Tensor, reduction: str, with_grad: bool) -> tuple[Tensor, Tensor]:
    """(loss, kept gradient) of a loss over ``input``'s class dimension."""
    dim = _class_dim(input.dim())
    shape = (input.shape[:dim] + input.shape[dim + 1:]) if reduction == "none" else ()
    grad = torch.empty_like(input) if with_grad else input.new_empty(0)
    return input.new_empty(shape), grad


def _focal_impl(input: Tensor, target: Tensor, alpha: Tensor | None, gamma: float,
                ignore_index: int, reduction: str, with_grad: bool) -> tuple[Tensor, Tensor]:
    kw: dict[str, Any] = dict(gamma=gamma, alpha=_opt_np(alpha), axis=_class_dim(input.dim()),
                              ignore_index=ignore_index, reduction=reduction)
    if with_grad:
        loss, grad = _focal.focal_loss_and_grad(_np(input), _np(target), **kw)
        return _tensor(loss), _tensor(grad)
    return _tensor(_focal.focal_loss(_np(input), _np(target), **kw)), input.new_empty(0)


def _focal_fake(input: Tensor, target: Tensor, alpha: Tensor | None, gamma: float,
                ignore_index: int, reduction: str, with_grad: bool) -> tuple[Tensor, Tensor]:
    return _loss_fake(input, reduction, with_grad)


def _focal_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
    ctx.save_for_backward(output[1])
    ctx.reduction, ctx.dim = inputs[5], _class_dim(inputs[0].dim())
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)


@_first_order
def _focal_backward(ctx: Any, g: Tensor, _g_grad: Tensor | None) -> tuple[Any, ...]:
    (saved,) = ctx.saved_tensors
    return (_scale_saved(g, saved, ctx.reduction, ctx.dim),) + (None,) * 6


_focal_op = _operator(
    "focal_loss", "(Tensor input, Tensor target, Tensor? alpha, float gamma, "
    "int ignore_index, str reduction, bool with_grad) -> (Tensor, Tensor)",
    _focal_impl, _focal_fake, _focal_backward, _focal_setup)


def focal_loss(input: Tensor, target: Tensor, *, gamma: float = 2.0,
               alpha: Tensor | None = None, ignore_index: int = -100,
               reduction: str = "mean") -> Tensor:
    """Softmax (multiclass) focal loss, ``-alpha[y] (1 - p_y)**gamma log p_y``.

    :func:`fastsoftmax.focal_loss` on tensors, with ``p`` the softmax over
    the class dimension, torch's: ``input`` is ``(C,)``, ``(N, C)`` or
    ``(N, C, d1, ...)``, ``target`` holds class indices (any integer dtype)
    of the shape without the class dimension.  ``alpha``: per-class weights
    ``(C,)`` of ``input``'s dtype, or None (every class 1).  "mean" divides
    the summed loss by the number of non-ignored samples (not by their
    summed ``alpha``, as the weighted cross-entropy does); samples whose
    target is ``ignore_index`` contribute neither loss nor gradient.
    ``gamma = 0`` is ``cross_entropy(input, target, weight=alpha)`` (its
    mean without ``alpha`` only).  PyTorch has no such function: the
    reference is the torch expression above.

    float32 and float64; float16 is computed in float32 and returned as
    float16; bfloat16 raises ``TypeError``.  With ``input`` requiring grad
    the forward computes the gradient in the same fused pass and keeps it
    (:func:`fastsoftmax.focal_loss_and_grad`); the backward scales it.  No
    gradient flows to ``target`` or ``alpha`` (``NotImplementedError`` if
    they require grad), and there is no second derivative.

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import focal_loss
    >>> x = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=torch.float64,
    ...                  requires_grad=True)
    >>> loss = focal_loss(x, torch.tensor([0, 1]))
    >>> round(loss.item(), 6)
    0.028539
    >>> loss.backward()
    >>> x.grad[0]
    tensor([-0.0518,  0.0368,  0.0150], dtype=torch.float64)
    """
    fn = "focal_loss"
    _check_tensor(input, "input", fn)
    _integer_target(target, "target", fn)
    if alpha is not None:
        _check_tensor(alpha, "alpha", fn)
        _same_dtype(input, alpha, "alpha", "input", fn)
    _no_grad_needed(target, "target", fn)
    _no_grad_needed(alpha, "alpha", fn)
    reduction = check_reduction(reduction)
    gamma = _real(gamma, "gamma", 0.0)
    ignore_index = check_int(ignore_index, "ignore_index")
    if input.dim() == 0:
        raise ValueError(f"{fn}: input must have at least one dimension (the classes)")
    loss, _ = _focal_op(input, target, alpha, gamma, ignore_index, reduction,
                        _wants_grad(input))
    return loss


def _sigmoid_focal_impl(inputs: Tensor, targets: Tensor, alpha: float | None, gamma: float,
                        reduction: str, with_grad: bool) -> tuple[Tensor, Tensor]:
    kw: dict[str, Any] = dict(alpha=alpha, gamma=gamma, reduction=reduction)
    if with_grad:
        loss, grad = _focal.sigmoid_focal_loss_and_grad(_np(inputs), _np(targets), **kw)
        return _tensor(loss), _tensor(grad)
    return (_tensor(_focal.sigmoid_focal_loss(_np(inputs), _np(targets), **kw)),
            inputs.new_empty(0))


def _sigmoid_focal_fake(inputs: Tensor, targets: Tensor, alpha: float | None, gamma: float,
                        reduction: str, with_grad: bool) -> tuple[Tensor, Tensor]:
    shape = inputs.shape if reduction == "none" else ()
    return inputs.new_empty(shape), inputs.new_empty(inputs.shape if with_grad else (0,))


_sigmoid_focal_op = _operator(
    "sigmoid_focal_loss", "(Tensor inputs, Tensor targets, float? alpha, float gamma, "
    "str reduction, bool with_grad) -> (Tensor, Tensor)",
    _sigmoid_focal_impl, _sigmoid_focal_fake, _elementwise_backward, _elementwise_setup)


def sigmoid_focal_loss(inputs: Tensor, targets: Tensor, *, alpha: float | None = 0.25,
                       gamma: float = 2.0, reduction: str = "none") -> Tensor:
    """``torchvision.ops.sigmoid_focal_loss`` by fastsoftmax's elementwise kernel.

    torchvision's arguments, names and defaults (``alpha`` and the rest
    keyword-only): with ``p = sigmoid(inputs)``, ``ce`` the binary
    cross-entropy with logits and ``p_t = p t + (1 - p)(1 - t)``, each
    element's loss is ``ce (1 - p_t)**gamma``, times ``alpha t + (1 - alpha)
    (1 - t)`` when ``alpha >= 0`` (a negative ``alpha`` or None: no weight);
    reductions "none" (the default), "mean" (over all elements) and "sum".
    ``targets`` has the shape of ``inputs``: binary labels or soft targets,
    floats of ``inputs``' dtype, or integers or bools (cast).  Every term is
    formed without cancellation (:func:`fastsoftmax.sigmoid_focal_loss`), so
    confident right answers keep their small loss where torchvision's
    ``1 - p_t`` rounds to 0, and the gradient at infinite logits is its
    finite limit (torchvision's autograd: NaN).

    float32 and float64; float16 is computed in float32 and returned as
    float16; bfloat16 raises ``TypeError``.  With ``inputs`` requiring grad
    the forward computes the gradient too (one pass) and the backward scales
    it.  No gradient flows to ``targets`` (``NotImplementedError`` if it
    requires grad), and there is no second derivative.

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import sigmoid_focal_loss
    >>> x = torch.tensor([2.0, -1.0, 0.0], dtype=torch.float64, requires_grad=True)
    >>> loss = sigmoid_focal_loss(x, torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64))
    >>> loss.detach()
    tensor([0.0005, 0.0170, 0.0433], dtype=torch.float64)
    >>> loss.sum().backward()
    >>> x.grad
    tensor([-0.0012,  0.0394, -0.0746], dtype=torch.float64)
    """
    fn = "sigmoid_focal_loss"
    _check_tensor(inputs, "inputs", fn)
    _check_tensor(targets, "targets", fn, floating=False)
    if targets.dtype == torch.bfloat16 or targets.is_complex():
        raise TypeError(f"{fn}: targets must be real numbers of float32, float64 or float16 "
                        f"(or integers), got {targets.dtype}")
    _same_dtype(inputs, targets, "targets", "inputs", fn)
    _same_shape(inputs, targets, "targets", "inputs", fn)
    _no_grad_needed(targets, "targets", fn)
    if alpha is not None:
        alpha = _finite(alpha, "alpha", "None or a real number")
    gamma = _real(gamma, "gamma", 0.0)
    reduction = check_reduction(reduction)
    loss, _ = _sigmoid_focal_op(inputs, targets, alpha, gamma, reduction, _wants_grad(inputs))
    return loss


# ------------------------------------------------------------------ divergences

def _kl_div_impl(input: Tensor, target: Tensor, reduction: str, log_target: bool) -> Tensor:
    x, t = _np(input), _np(target)
    if reduction == "batchmean":
        if x.ndim == 0:
            reduction = "sum"
        else:
            # torch's batchmean, the sum over input.shape[0] whatever the
            # dimensions: the NumPy layer's (a distribution per row) of
            # (shape[0], -1) views
            shape = (x.shape[0], math.prod(x.shape[1:]))
            x, t = x.reshape(shape), t.reshape(shape)
    loss = _divergence.kl_div(x, t, axis=-1, reduction=reduction, log_target=log_target)
    return _tensor(loss)


def _kl_div_fake(input: Tensor, target: Tensor, reduction: str, log_target: bool) -> Tensor:
    return input.new_empty(input.shape if reduction == "none" else ())


def _kl_div_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    ctx.save_for_backward(inputs[0], inputs[1])
    ctx.reduction, ctx.log_target = inputs[2], inputs[3]


def _kl_div_backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
    # elementwise, in torch operations on the saved input and target, so
    # that it differentiates again
    x, t = ctx.saved_tensors
    if ctx.reduction == "mean":
        g = g / x.numel()
    elif ctx.reduction == "batchmean" and x.dim():
        g = g / x.shape[0]
    gx = gt = None
    if ctx.log_target:  # exp(t) (t - x)
        p = torch.exp(t)
        if ctx.needs_input_grad[0]:
            gx = -g * p
        if ctx.needs_input_grad[1]:
            gt = g * (p * (t - x + 1))
    else:  # xlogy(t, t) - t x
        if ctx.needs_input_grad[0]:
            gx = -g * t
        if ctx.needs_input_grad[1]:
            # log t + 1 - x; NaN at t = 0, as torch's autograd of xlogy(t, t) gives
            gt = g * torch.where(t == 0, math.nan, torch.log(t) + 1 - x)
    return gx, gt, None, None


_kl_div_op = _operator("kl_div", "(Tensor input, Tensor target, str reduction, "
                       "bool log_target) -> Tensor", _kl_div_impl, _kl_div_fake,
                       _kl_div_backward, _kl_div_setup)


def kl_div(input: Tensor, target: Tensor, *, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """``torch.nn.functional.kl_div`` by fastsoftmax's kernel.

    ``input`` holds log-probabilities, ``target`` probabilities (with
    ``log_target``, log-probabilities) of the same shape and dtype; the
    pointwise loss is ``xlogy(target, target) - target * input`` (with
    ``log_target``, ``exp(target) * (target - input)``), computed and summed
    in double by :func:`fastsoftmax.kl_div`.  Reductions as torch's: "mean"
    (the default: over the number of elements; torch warns that this is not
    the divergence per distribution), "batchmean" (the sum over
    ``input.shape[0]``, whatever the dimensions, as torch: for 2-D input the
    divergence per row), "sum" and "none".  ``size_average`` and ``reduce``
    (deprecated) are not taken; the options are keyword-only.  No
    broadcasting: ``target`` must have ``input``'s shape.

    float32 and float64; float16 is computed in float32 and returned as
    float16; bfloat16 raises ``TypeError``.  Gradients flow to ``input`` and
    to ``target``, as torch's (``-target``, or ``-exp(target)``; ``log(target)
    + 1 - input``, NaN where the target is 0 as torch's, or ``exp(target)
    (target - input + 1)``); the backward is torch operations on the saved
    tensors, so higher derivatives work too.

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import kl_div
    >>> logq = torch.log_softmax(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]],
    ...                                       dtype=torch.float64), 1).requires_grad_()
    >>> p = torch.tensor([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]], dtype=torch.float64)
    >>> loss = kl_div(logq, p, reduction="batchmean")
    >>> round(loss.item(), 6)
    0.241709
    >>> loss.backward()
    >>> logq.grad
    tensor([[-0.1000, -0.1500, -0.2500],
            [-0.2500, -0.2500, -0.0000]], dtype=torch.float64)
    """
    fn = "kl_div"
    _check_tensor(input, "input", fn)
    _check_tensor(target, "target", fn)
    _same_dtype(input, target, "target", "input", fn)
    _same_shape(input, target, "target", "input", fn)
    reduction = _divergence._check_kl_reduction(reduction)
    log_target = _divergence._check_bool(log_target, "log_target")
    return _kl_div_op(input, target, reduction, log_target)


def _distillation_impl(student_logits: Tensor, teacher_logits: Tensor, target: Tensor | None,
                       temperature: float, alpha: float, ignore_index: int, with_grad: bool
                       ) -> tuple[Tensor, Tensor]:
    kw: dict[str, Any] = dict(temperature=temperature, target=_opt_np(target), alpha=alpha,
                              ignore_index=ignore_index,
                              axis=_class_dim(student_logits.dim()))
    s, t = _np(student_logits), _np(teacher_logits)
    if with_grad:
        # the gradient in the student's layout (as autograd wants its .grad)
        grad = _empty_like(student_logits)
        loss, _ = _divergence.distillation_loss_and_grad(s, t, grad_out=grad, **kw)
        return _tensor(loss), _tensor(grad)
    return _tensor(_divergence.distillation_loss(s, t, **kw)), student_logits.new_empty(0)


def _distillation_fake(student_logits: Tensor, teacher_logits: Tensor, target: Tensor | None,
                       temperature: float, alpha: float, ignore_index: int, with_grad: bool
                       ) -> tuple[Tensor, Tensor]:
    return _loss_fake(student_logits, "mean", with_grad)


def _distillation_setup(ctx: Any, inputs: tuple[Any, ...],
                        output: tuple[Tensor, Tensor]) -> None:
    ctx.save_for_backward(output[1])
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)


@_first_order
def _distillation_backward(ctx: Any, g: Tensor, _g_grad: Tensor | None) -> tuple[Any, ...]:
    (saved,) = ctx.saved_tensors
    return (_scale_saved(g, saved, "sum", 0),) + (None,) * 6


_distillation_op = _operator(
    "distillation_loss", "(Tensor student_logits, Tensor teacher_logits, Tensor? target, "
    "float temperature, float alpha, int ignore_index, bool with_grad) -> (Tensor, Tensor)",
    _distillation_impl, _distillation_fake, _distillation_backward, _distillation_setup)


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, *,
                      temperature: float = 1.0, target: Tensor | None = None,
                      alpha: float = 0.5, ignore_index: int = -100) -> Tensor:
    """Knowledge-distillation loss, fused: :func:`fastsoftmax.distillation_loss`.

    With ``s``, ``t`` the student's and teacher's logits (one shape and
    dtype, classes on torch's class dimension), ``T`` the temperature and
    class-index targets ``y``, the torch expression ::

        alpha * F.cross_entropy(s, y, ignore_index=ignore_index)
            + (1 - alpha) * T**2 * F.kl_div(F.log_softmax(s / T, dim=1),
                                            F.softmax(t / T, dim=1),
                                            reduction="batchmean")

    and with ``target=None`` the soft term ``T**2 * F.kl_div(...)`` alone
    (``alpha`` unused); "batchmean" divides by the number of samples (``N``
    for ``(N, C)``, ``N * d1 * ...`` for ``(N, C, d1, ...)``; 1-D logits are
    one sample).  ``temperature`` finite and > 0, ``alpha`` any finite real.
    The loss is a 0-d tensor.

    float32 and float64; float16 is computed in float32 and returned as
    float16; bfloat16 raises ``TypeError``.  With ``student_logits``
    requiring grad the forward computes the gradient too, in the same fused
    sweep (:func:`fastsoftmax.distillation_loss_and_grad`), in the student's
    layout; the backward scales it.  No gradient flows to the teacher
    (``NotImplementedError`` if ``teacher_logits`` requires grad: detach it,
    as a frozen teacher is) or to ``target``, and there is no second
    derivative.

    Examples
    --------
    >>> import torch
    >>> from fastsoftmax.torch import distillation_loss
    >>> s = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=torch.float64,
    ...                  requires_grad=True)
    >>> t = torch.tensor([[1.5, 1.5, 0.0], [0.0, 3.0, 0.0]], dtype=torch.float64)
    >>> loss = distillation_loss(s, t, temperature=2.0, target=torch.tensor([0, 1]))
    >>> round(loss.item(), 6)
    0.207554
    >>> loss.backward()
    >>> s.grad[0]
    tensor([-0.0366,  0.0105,  0.0261], dtype=torch.float64)
    """
    fn = "distillation_loss"
    _check_tensor(student_logits, "student_logits", fn)
    _check_tensor(teacher_logits, "teacher_logits", fn)
    _same_dtype(student_logits, teacher_logits, "teacher_logits", "student_logits", fn)
    _same_shape(student_logits, teacher_logits, "teacher_logits", "student_logits", fn)
    _no_grad_needed(teacher_logits, "teacher_logits", fn)
    if target is not None:
        _integer_target(target, "target", fn)
        _no_grad_needed(target, "target", fn)
    temperature = _real(temperature, "temperature", 0.0, open_lo=True)
    alpha = _finite(alpha, "alpha")
    ignore_index = check_int(ignore_index, "ignore_index")
    if student_logits.dim() == 0:
        raise ValueError(f"{fn}: student_logits must have at least one dimension (the "
                         "classes)")
    loss, _ = _distillation_op(student_logits, teacher_logits, target, temperature, alpha,
                               ignore_index, _wants_grad(student_logits))
    return loss


# ------------------------------------------------------------------ linear cross-entropy

def _linear_ce_impl(hidden: Tensor, weight: Tensor, target: Tensor,
                  bias: Tensor | None, ignore_index: int, label_smoothing: float,
                  reduction: str, z_loss: float, softcap: float | None,
                  chunk_size: int | None, with_grad: bool
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    kw: dict[str, Any] = dict(bias=_opt_np(bias), ignore_index=ignore_index,
              label_smoothing=label_smoothing, reduction=reduction, z_loss=z_loss,
              softcap=softcap, chunk_size=chunk_size)
    h, w, t = _np(hidden), _np(weight), _np(target)
    none = hidden.new_empty(0)
    if not with_grad:
        return _tensor(_linear.linear_cross_entropy(h, w, t, **kw)), none, none.clone(), \
            none.clone()
    res = _linear.linear_cross_entropy_and_grad(h, w, t, **kw)
    gb = _tensor(res[3]) if bias is not None else none
    return _tensor(res[0]), _tensor(res[1]), _tensor(res[2]), gb


def _linear_ce_fake(hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None,
      ignore_index: int, label_smoothing: float, reduction: str, z_loss: float,
      softcap: float | None, chunk_size: int | None, with_grad: bool
      ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    shape = hidden.shape[:-1] if reduction == "none" else ()
    if not with_grad:
        return (hidden.new_empty(shape), hidden.new_empty(0), hidden.new_empty(0),
                hidden.new_empty(0))
    gb = hidden.new_empty(bias.shape if bias is not None else (0,))
    return (hidden.new_empty(shape), hidden.new_empty(hidden.shape),
            hidden.new_empty(weight.shape), gb)


def _linear_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    ctx.save_for_backward(*output[1:])
    ctx.mark_non_differentiable(*output[1:])
    ctx.set_materialize_grads(False)


@_first_order
def _linear_backward(ctx: Any, g: Tensor, *_rest: Any) -> tuple[Any, ...]:
    gh, gw, gb = ctx.saved_tensors
    if g is None:
        return (None,) * 11
    one = _is_one(g)
    scaled = [t if one else g * t for t in (gh, gw, gb)]
    return (scaled[0], scaled[1], None, scaled[2] if ctx.needs_input_grad[3] else None) \
        + (None,) * 7


_linear_ce_op = _operator(
    "linear_cross_entropy", "(Tensor hidden, Tensor weight, Tensor target, Tensor? bias, "
    "int ignore_index, float label_smoothing, str reduction, float z_loss, float? softcap, "
    "int? chunk_size, bool with_grad) -> (Tensor, Tensor, Tensor, Tensor)",
    _linear_ce_impl, _linear_ce_fake, _linear_backward, _linear_setup)


def linear_cross_entropy(hidden: Tensor, weight: Tensor, target: Tensor, *,
                         bias: Tensor | None = None, ignore_index: int = -100,
                         label_smoothing: float = 0.0, reduction: str = "mean",
                         z_loss: float = 0.0, softcap: float | None = None,
                         chunk_size: int | None = None) -> Tensor:
    """``F.cross_entropy(F.linear(hidden, weight, bias), target)`` without the logits.

    :func:`fastsoftmax.linear_cross_entropy` on tensors: the same arguments
    in the same order (``hidden (..., D)``, ``weight (V, D)`` as
    ``torch.nn.Linear.weight``, class-index ``target`` of
    ``hidden.shape[:-1]``, the rest keyword-only), no ``(N, V)`` logits ever
    held.  ``hidden``, ``weight`` and ``bias`` must have one dtype (as
    ``F.linear`` requires).  When any of them requires grad the forward
    computes every gradient in the same tiled pass and keeps them (memory:
    the sizes of ``hidden``, ``weight`` and ``bias``); the backward scales
    them.

    ``reduction="none"`` with gradients raises ``NotImplementedError``: the
    kept gradients of ``weight`` sum over the samples and cannot be
    re-weighted per sample afterwards.  Reduce with "sum" or "mean" (or
    detach the inputs to get per-sample losses without gradients).

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from fastsoftmax.torch import linear_cross_entropy
    >>> g = torch.Generator().manual_seed(0)
    >>> h = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    >>> w = torch.randn(10, 4, generator=g, dtype=torch.float64, requires_grad=True)
    >>> y = torch.tensor([1, 3, 5, 7, 9, -100])
    >>> loss = linear_cross_entropy(h, w, y)
    >>> loss.backward()
    >>> ref = F.cross_entropy(h @ w.T, y)
    >>> bool(torch.isclose(loss, ref))
    True
    """
    fn = "linear_cross_entropy"
    _check_tensor(hidden, "hidden", fn)
    _check_tensor(weight, "weight", fn)
    _check_tensor(target, "target", fn, floating=False)
    _same_dtype(hidden, weight, "weight", "hidden", fn)
    if bias is not None:
        _check_tensor(bias, "bias", fn)
        _same_dtype(hidden, bias, "bias", "hidden", fn)
    _no_grad_needed(target, "target", fn)
    reduction = check_reduction(reduction)
    ignore_index = check_int(ignore_index, "ignore_index")
    label_smoothing = _real(label_smoothing, "label_smoothing", 0.0, 1.0)
    z_loss = _real(z_loss, "z_loss", 0.0)
    if softcap is not None:
        softcap = _real(softcap, "softcap", 0.0, open_lo=True)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size")
    with_grad = _wants_grad(hidden, weight, bias)
    if with_grad and reduction == "none":
        raise NotImplementedError(
            f"{fn}: reduction='none' has no gradient here (the weight's gradient sums "
            "over the samples); use 'sum' or 'mean', or detach the inputs")
    loss, *_ = _linear_ce_op(hidden, weight, target, bias, ignore_index, label_smoothing,
                             reduction, z_loss, softcap, chunk_size, with_grad)
    return loss
