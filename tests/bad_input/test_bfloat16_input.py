"""bfloat16 (ml_dtypes) input to every public computing function: it either
works -- the functions whose kernels read 16-bit rows, and the cross-entropy
options that take the float32 route -- with the answer of the float32 input
rounded to bfloat16, or raises a TypeError that names bfloat16.  Never a
silent wrong answer (bfloat16 is a void-kind dtype to NumPy: taken for
anything else, its bits would be garbage) and never a crash.  Runs in this
interpreter (nothing here calls into the kernels with bad memory)."""
from __future__ import annotations

import numpy as np
import pytest

import fastsoftmax as fs
from _helpers import computing_functions
from bad_input._cases import MAIN_ARG, call_args, value_for
from fastsoftmax._halfprec import STAGED

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)

#: What reads bfloat16 (the rest raises TypeError).
READS_BFLOAT16 = {"softmax", "log_softmax", "logsumexp", "cross_entropy",
                  "cross_entropy_and_grad"} | set(STAGED)


def _bf16_call(fname):
    main = value_for(fname, (6, 5)).astype(np.float32)
    args, kw = call_args(fname, main)
    return (main.astype(BF16),) + args[1:], kw, args, main


def _float_inputs(b):
    """The calls of the functions of several float arrays, ``b`` turning one
    of them into bfloat16: (function name, call)."""
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    p = fs.softmax(x)
    y = np.arange(6) % 5
    h, w = x[:, :4].copy(), x[:5, :4].copy()
    return [
        ("binary_cross_entropy_gradient_hessian", lambda: fs.binary_cross_entropy_gradient_hessian(
            b(x), (x > 0).astype(np.float32))),
        ("cross_entropy_gradient_hessian", lambda: fs.cross_entropy_gradient_hessian(b(x), y)),
        ("distillation_loss", lambda: fs.distillation_loss(b(x), x, target=y)),
        ("distillation_loss", lambda: fs.distillation_loss(x, b(x), target=y)),
        ("distillation_loss_and_grad", lambda: fs.distillation_loss_and_grad(b(x), x)),
        ("kl_div", lambda: fs.kl_div(b(np.log(p)), p)),
        ("kl_div", lambda: fs.kl_div(np.log(p), b(p))),
        ("softmax_backward", lambda: fs.softmax_backward(b(x), p)),
        ("softmax_backward", lambda: fs.softmax_backward(x, b(p))),
        ("log_softmax_backward", lambda: fs.log_softmax_backward(b(x), np.log(p))),
        ("linear_cross_entropy", lambda: fs.linear_cross_entropy(b(h), w, y)),
        ("linear_cross_entropy", lambda: fs.linear_cross_entropy(h, b(w), y)),
        ("linear_cross_entropy_and_grad", lambda: fs.linear_cross_entropy_and_grad(b(h), w, y)),
        ("cross_entropy", lambda: fs.cross_entropy(x, b(p))),            # bfloat16 targets
        ("binary_cross_entropy_with_logits", lambda: fs.binary_cross_entropy_with_logits(
            x, b((x > 0).astype(np.float32)))),
    ]


_SEVERAL = _float_inputs(lambda a: a.astype(BF16))
# the same calls with the bfloat16 values as float32 (the reference of those that read it)
_WIDENED = _float_inputs(lambda a: a.astype(BF16).astype(np.float32))
# the staged functions read bfloat16 in every floating argument, the others in none
_RAISES = [(f, c) for f, c in _SEVERAL if f not in STAGED]
_WORKS = [(f, c, r) for (f, c), (_, r) in zip(_SEVERAL, _WIDENED) if f in STAGED]


def _same_as_widened(got, ref):
    for g, r in zip(got if isinstance(got, tuple) else (got,),
                    ref if isinstance(ref, tuple) else (ref,)):
        g, r = np.asarray(g), np.asarray(r)
        if g.dtype == BF16:
            np.testing.assert_array_equal(g.view(np.uint16), r.astype(BF16).view(np.uint16))
        else:  # reduced losses: float32; float32 primary operands: float32 results
            assert g.dtype == r.dtype
            np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("fname,call", _RAISES, ids=[f for f, _ in _RAISES])
def test_bfloat16_in_other_arguments_raises(fname, call):
    with pytest.raises(TypeError, match="bfloat16"):
        call()


@pytest.mark.parametrize("fname,call,ref", _WORKS, ids=[f for f, _, _ in _WORKS])
def test_bfloat16_in_other_arguments_works(fname, call, ref):
    _same_as_widened(call(), ref())


def test_every_function_is_tried():
    tried = {f for f in MAIN_ARG if f in computing_functions()} | {f for f, _ in _SEVERAL}
    assert tried >= computing_functions()


@pytest.mark.parametrize("fname", sorted(f for f in computing_functions()
                                         if f in MAIN_ARG and not f.startswith("linear")))
def test_bfloat16_main_argument_works_or_raises(fname):
    f = getattr(fs, fname)
    bargs, kw, args, main = _bf16_call(fname)
    if fname not in READS_BFLOAT16:
        with pytest.raises(TypeError, match="bfloat16"):
            f(*bargs, **kw)
        return
    got = f(*bargs, **kw)
    ref = f(main.astype(BF16).astype(np.float32), *args[1:], **kw)
    _same_as_widened(got, ref)


@pytest.mark.parametrize("fname", ["softmax", "log_softmax"])
def test_bfloat16_where_and_temperature_raise(fname):
    x = np.zeros((3, 4), BF16)
    with pytest.raises(TypeError, match="bfloat16"):
        getattr(fs, fname)(x, where=np.ones((3, 4), bool))
    with pytest.raises(TypeError, match="bfloat16"):
        getattr(fs, fname)(x, temperature=2.0)


def test_bfloat16_targets_and_outputs():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(TypeError):
        fs.cross_entropy(x, np.zeros(3, BF16))           # bfloat16 class indices
    with pytest.raises(TypeError, match="dtype"):
        fs.softmax(x, out=np.empty((3, 4), BF16))        # out of another dtype
    xb = x.astype(BF16)
    with pytest.raises(TypeError, match="dtype"):
        fs.softmax(xb, out=np.empty((3, 4), np.float32))
    with pytest.raises(TypeError, match="grad_out"):
        fs.cross_entropy_and_grad(xb, np.zeros(3, np.int64),
                                  grad_out=np.empty((3, 4), np.float32))
