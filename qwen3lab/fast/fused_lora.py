"""A LoRA layer on a 4-bit weight with the LoRA sum inside the frozen product, not after it.

PEFT computes a LoRA layer on a bitsandbytes ``Linear4bit`` as ``base(x) + B(A(x)) * scaling``;
compiled by torch.compile, the sum becomes an out-of-place ``addmm``, which first copies ``base``
into its output. ``qlora_linear`` and ``qlora_linear_backward`` are operators that torch.compile
leaves opaque, so their in-place products stay in place (``xa = x·A^T``, ``B' = scaling·B``):

    forward    out = xa·B'^T;  out += x·W^T          cuBLAS adds ``out`` in its epilogue
    backward   dX = (dY·B')·A;  dX += dY·W;  dA = (dY·B')^T·x;  dB' = dY^T·xa

The NF4 dequantize of ``W`` and the casts of LoRA's float32 weights stay in the compiled graph,
which launches them more cheaply than the operator could. ``W`` is dequantized again for the
backward, as bitsandbytes does, unless ``keep_dequantized`` keeps a 16-bit copy per layer while
training (where ``recipe.fit_recipe`` finds the memory; ``speedup.KeepDequantized`` does it);
``keep_dequantized(model, fp8=True)`` keeps e4m3 copies instead, and the frozen products run in
FP8 (``qlora_linear_fp8``, inputs and gradients row-scaled by ``rowwise_fp8``). ``install`` gives
each eligible layer this forward (one vanilla LoRA adapter, no dropout, no bias); any other call,
and every call without gradients (generation), takes the layer's own forward.
Measurements: docs/benchmarks.md. Introduced in 05_lora_training (``qwen3lab.fast.speed_up``
installs it where ``cfg.fused_lora``).
"""

import os
import types
import warnings
from typing import Optional

import torch
from torch import Tensor


def _dequantize(weight: Tensor, absmax: Tensor, code: Tensor, absmax2: Optional[Tensor], code2: Optional[Tensor],
                offset: Optional[Tensor], blocksize: int, blocksize2: int, quant_type: str,
                shape: tuple[int, int], dtype: torch.dtype) -> Tensor:
    """The ``[out, in]`` weight in ``dtype``: through Unsloth's NF4 dequantize where it registered
    one as a Triton operator (CUDA), which torch.compile schedules like its own kernels; elsewhere
    bitsandbytes'."""
    if weight.is_cuda and quant_type == "nf4" and code2 is not None and _UNSLOTH_NF4[0]:
        return torch.ops.unsloth.dequantize_nf4(weight, absmax, code2, absmax2, offset, code, blocksize,
                                                blocksize2, list(shape), dtype)
    import bitsandbytes.functional as F

    state2 = None
    if absmax2 is not None:
        state2 = F.QuantState(absmax=absmax2, code=code2, blocksize=blocksize2, dtype=torch.float32)
    state = F.QuantState(absmax=absmax, shape=torch.Size(shape), code=code, blocksize=blocksize,
                         quant_type=quant_type, dtype=dtype, offset=offset, state2=state2)
    return F.dequantize_4bit(weight, state)


#: Whether ``torch.ops.unsloth.dequantize_nf4`` exists (checked once, at ``install``).
_UNSLOTH_NF4 = [False]


#: The ``qwen3lab`` operator namespace, defined at this low level rather than with
#: ``torch.library.custom_op``, whose Python wrapper adds host time to every call.
_LIBRARY = torch.library.Library("qwen3lab", "DEF")


def _operator(schema: str, fake):
    """Define ``qwen3lab::<schema>`` with the decorated function as its kernel on every device and
    ``fake`` for tracing; returns the operator (torch.compile leaves its calls opaque)."""
    name = schema.split("(", 1)[0]

    def define(fn):
        _LIBRARY.define(schema)
        _LIBRARY.impl(name, fn, "CompositeExplicitAutograd")
        torch.library.register_fake(f"qwen3lab::{name}", fake, lib=_LIBRARY)
        operator = getattr(torch.ops.qwen3lab, name).default
        operator.__doc__ = fn.__doc__
        return operator

    return define


def _fake_linear(x, w, a, b):
    return x.new_empty((*x.shape[:-1], w.shape[0])), x.new_empty((*x.shape[:-1], a.shape[0]))


def _fake_backward(x, w, a, b):
    dx = x.new_empty(x.shape) if w.numel() else x.new_empty(0)
    return dx, a.new_empty(a.shape), b.new_empty(b.shape)


def _lora_grads(grad: Tensor, x: Tensor, xa: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The 2-D gradient, ``dY·b`` and LoRA's gradients ``(da, db)`` of a ``qlora_linear`` product."""
    g = grad.reshape(-1, grad.shape[-1])
    d_xa = g @ b  # [rows, r]
    return g, d_xa, d_xa.t() @ x.reshape(-1, x.shape[-1]), g.t() @ xa.reshape(-1, xa.shape[-1])


@_operator("qlora_linear(Tensor x, Tensor w, Tensor a, Tensor b) -> (Tensor, Tensor)", _fake_linear)
def qlora_linear(x: Tensor, w: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """``(x·w^T + (x·a^T)·b^T, x·a^T)`` with the sum in the frozen product's epilogue, for the
    dequantized frozen weight ``w`` ``[out, in]``, LoRA's ``a`` ``[r, in]`` and ``b`` ``[out, r]``
    (scaling folded into ``b``); the second output is kept for the backward. One dtype throughout."""
    x2 = x.reshape(-1, x.shape[-1])
    xa = x2 @ a.t()
    out = xa @ b.t()
    out.addmm_(x2, w.t())  # in place: cuBLAS reads the LoRA term in the epilogue, no copy
    return out.view(*x.shape[:-1], w.shape[0]), xa.view(*x.shape[:-1], a.shape[0])


@_operator("qlora_linear_backward(Tensor grad, Tensor x, Tensor xa, Tensor w, Tensor a, Tensor b) "
           "-> (Tensor, Tensor, Tensor)",
           lambda grad, x, xa, w, a, b: _fake_backward(x, w, a, b))
def qlora_linear_backward(grad: Tensor, x: Tensor, xa: Tensor, w: Tensor, a: Tensor,
                          b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(dX, da, db)`` of ``qlora_linear``; ``dX`` is empty when ``w`` is (no input gradient needed)."""
    g, d_xa, grad_a, grad_b = _lora_grads(grad, x, xa, b)
    if w.numel() == 0:
        return x.new_empty(0), grad_a, grad_b
    dx = d_xa @ a
    dx.addmm_(g, w)  # dY·w + (dY·b)·a in one epilogue
    return dx.view(x.shape), grad_a, grad_b


class _QLoRA(torch.autograd.Function):
    """``qlora_linear`` with its dequantize on both sides: the forward dequantizes ``W`` for the
    frozen product and the backward again for ``dX`` (only when ``x`` needs a gradient), so no
    16-bit copy of a frozen weight is kept between them."""

    @staticmethod
    def forward(ctx, x, a, b, weight, absmax, code, absmax2, code2, offset, meta):
        w = _dequantize(weight, absmax, code, absmax2, code2, offset, *meta, x.dtype)
        out, xa = qlora_linear(x, w, a, b)
        ctx.save_for_backward(x, xa, a, b, weight, absmax, code, absmax2, code2, offset)
        ctx.meta = meta
        return out

    @staticmethod
    def backward(ctx, grad):
        x, xa, a, b, weight, absmax, code, absmax2, code2, offset = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            w = _dequantize(weight, absmax, code, absmax2, code2, offset, *ctx.meta, x.dtype)
        else:
            w = x.new_empty(0)
        dx, grad_a, grad_b = qlora_linear_backward(grad, x, xa, w, a, b)
        return ((dx if ctx.needs_input_grad[0] else None), grad_a, grad_b,
                None, None, None, None, None, None, None)


class _LoRAOnDense(torch.autograd.Function):
    """``qlora_linear`` on a frozen weight kept dequantized (``keep_dequantized``): no dequantize
    on either side, at the memory of a 16-bit copy of every such weight."""

    @staticmethod
    def forward(ctx, x, a, b, w):
        out, xa = qlora_linear(x, w, a, b)
        ctx.save_for_backward(x, xa, a, b, w)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, xa, a, b, w = ctx.saved_tensors
        dx, grad_a, grad_b = qlora_linear_backward(grad, x, xa, w if ctx.needs_input_grad[0] else x.new_empty(0),
                                                   a, b)
        return (dx if ctx.needs_input_grad[0] else None), grad_a, grad_b, None


#: FP8 format of the frozen products (``keep_dequantized(model, fp8=True)``): e4m3, the largest
#: finite value 448, one float32 scale per row of each operand (per token, per output or input channel).
FP8 = torch.float8_e4m3fn
FP8_MAX = 448.0
#: Which FP8 products accumulate in the tensor cores' faster, less precise accumulator
#: (``torch._scaled_mm``'s ``use_fast_accum``): "none", "forward" or "both" (forward and dX).
#: Read at each trace; the environment variable QWEN3LAB_FP8_FAST_ACCUM sets it (benchmarks).
FP8_FAST_ACCUM = os.environ.get("QWEN3LAB_FP8_FAST_ACCUM", "forward")
if FP8_FAST_ACCUM not in ("none", "forward", "both"):
    raise ValueError(f"QWEN3LAB_FP8_FAST_ACCUM={FP8_FAST_ACCUM!r}: use none, forward (the default) or both")


def rowwise_fp8(t: Tensor) -> tuple[Tensor, Tensor]:
    """``t`` ``[rows, k]`` as e4m3 and its float32 scales ``[rows, 1]``, so ``q * scale`` ≈ ``t``:
    each row's largest magnitude maps to 448. A row of zeros stays zeros. Plain tensor ops, so that
    torch.compile fuses them into the kernel that produced ``t`` (an RMSNorm, the SwiGLU, ...)."""
    amax = t.abs().amax(dim=-1, keepdim=True).float()
    scale = amax.clamp(min=1e-12) / FP8_MAX
    return (t.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8), scale


@_operator("qlora_linear_fp8(Tensor x, Tensor xq, Tensor xs, Tensor wq, Tensor ws, Tensor a, Tensor b, "
           "bool fast_accum=False) -> (Tensor, Tensor)",
           lambda x, xq, xs, wq, ws, a, b, fast_accum=False: _fake_linear(x, wq, a, b))
def qlora_linear_fp8(x: Tensor, xq: Tensor, xs: Tensor, wq: Tensor, ws: Tensor, a: Tensor,
                     b: Tensor, fast_accum: bool = False) -> tuple[Tensor, Tensor]:
    """``qlora_linear`` with the frozen product in FP8: ``x``'s rows ``xq`` ``[rows, in]`` (scales
    ``xs`` ``[rows, 1]``) times the frozen weight ``wq`` ``[out, in]`` (scales ``ws`` ``[1, out]``),
    accumulated in float32 (or the faster accumulator with ``fast_accum``) and written in ``x``'s
    dtype; the LoRA term stays in 16 bits, its rank-r product adding itself to that output in place."""
    x2 = x.reshape(-1, x.shape[-1])
    xa = x2 @ a.t()
    out = torch._scaled_mm(xq, wq.t(), scale_a=xs, scale_b=ws, out_dtype=x.dtype, use_fast_accum=fast_accum)
    out.addmm_(xa, b.t())
    return out.view(*x.shape[:-1], wq.shape[0]), xa.view(*x.shape[:-1], a.shape[0])


@_operator("qlora_linear_fp8_backward(Tensor grad, Tensor gq, Tensor gs, Tensor x, Tensor xa, Tensor wtq, "
           "Tensor wts, Tensor a, Tensor b, bool fast_accum=False) -> (Tensor, Tensor, Tensor)",
           lambda grad, gq, gs, x, xa, wtq, wts, a, b, fast_accum=False: _fake_backward(x, wtq, a, b))
def qlora_linear_fp8_backward(grad: Tensor, gq: Tensor, gs: Tensor, x: Tensor, xa: Tensor, wtq: Tensor,
                              wts: Tensor, a: Tensor, b: Tensor, fast_accum: bool = False
                              ) -> tuple[Tensor, Tensor, Tensor]:
    """``(dX, da, db)`` of ``qlora_linear_fp8``: ``dX``'s frozen product in FP8 from the gradient's
    rows ``gq`` (scales ``gs``) and the transposed weight ``wtq`` ``[in, out]`` (scales ``wts``
    ``[1, in]``); LoRA's gradients in 16 bits. ``dX`` is empty when ``wtq`` is."""
    _, d_xa, grad_a, grad_b = _lora_grads(grad, x, xa, b)
    if wtq.numel() == 0:
        return x.new_empty(0), grad_a, grad_b
    dx = torch._scaled_mm(gq, wtq.t(), scale_a=gs, scale_b=wts, out_dtype=grad.dtype, use_fast_accum=fast_accum)
    dx.addmm_(d_xa, a)
    return dx.view(x.shape), grad_a, grad_b


class _LoRAOnFP8(torch.autograd.Function):
    """``qlora_linear_fp8`` on a frozen weight kept in FP8 (``keep_dequantized(model, fp8=True)``):
    the input's rows, and in the backward the gradient's, are scaled to e4m3 by ``rowwise_fp8``
    in the compiled graph, next to the kernel that wrote them."""

    @staticmethod
    def forward(ctx, x, a, b, wq, ws):
        xq, xs = rowwise_fp8(x.reshape(-1, x.shape[-1]))
        out, xa = qlora_linear_fp8(x, xq, xs, wq, ws, a, b, FP8_FAST_ACCUM in ("forward", "both"))
        ctx.save_for_backward(x, xa, a, b, wq, ws)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, xa, a, b, wq, ws = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            # dX = G @ W = (G * ws) @ wq: the weight's per-output-channel scales move onto the
            # gradient's columns, so the one e4m3 copy serves both directions. Its transpose is made
            # here, for this product only (FP8 products take their second operand column-major).
            gq, gs = rowwise_fp8(grad.reshape(-1, grad.shape[-1]).float() * ws)
            wtq, wts = wq.t().contiguous(), ws.new_ones(1, wq.shape[1])
        else:
            gq = gs = wtq = wts = grad.new_empty(0)
        dx, grad_a, grad_b = qlora_linear_fp8_backward(grad, gq, gs, x, xa, wtq, wts, a, b, FP8_FAST_ACCUM == "both")
        return (dx if ctx.needs_input_grad[0] else None), grad_a, grad_b, None, None


# -- PEFT's LoRA Linear4bit ---------------------------------------------------------------------

#: The non-persistent buffer in which ``keep_dequantized`` keeps a layer's frozen weight in 16 bits.
DENSE_BUFFER = "qwen3lab_dense_weight"
#: The non-persistent buffers in which ``keep_dequantized(model, fp8=True)`` keeps it in FP8: the
#: weight ``[out, in]`` and its per-output-channel scales ``[1, out]``.
FP8_BUFFERS = ("qwen3lab_fp8_weight", "qwen3lab_fp8_scale")


def eligible(layer) -> bool:
    """The layer is a vanilla LoRA layer that ``qlora_linear`` computes exactly: one adapter, no
    dropout, no DoRA or other variant, not merged, a 4-bit base layer without bias."""
    base = getattr(layer, "base_layer", None)
    state = getattr(getattr(base, "weight", None), "quant_state", None)
    adapters = list(getattr(layer, "active_adapters", []))
    if state is None or getattr(base, "bias", None) is not None or len(adapters) != 1:
        return False
    name = adapters[0]
    return (name in layer.lora_A and name not in getattr(layer, "lora_variant", {})
            and isinstance(layer.lora_dropout[name], torch.nn.Identity)
            and state.quant_type in ("nf4", "fp4"))


def _fused_forward(self, x, *args, **kwargs):
    original = type(self).forward  # PEFT's, or Unsloth's patch of it
    if (args or kwargs or self.disable_adapters or self.merged or not torch.is_grad_enabled()
            or x.dim() < 2 or x.dtype != self.base_layer.weight.quant_state.dtype):
        return original(self, x, *args, **kwargs)
    weight = self.base_layer.weight
    name = self.active_adapters[0]
    # LoRA's float32 weights cast (and B scaled) where the compiler fuses it; autograd takes the
    # gradients back through the cast to float32
    a = self.lora_A[name].weight.to(x.dtype)
    b = (self.lora_B[name].weight * self.scaling[name]).to(x.dtype)
    dense = getattr(self, DENSE_BUFFER, None)
    if dense is not None and dense.dtype == x.dtype:
        return _LoRAOnDense.apply(x, a, b, dense)
    if x.dtype == torch.bfloat16 and getattr(self, FP8_BUFFERS[0], None) is not None:
        return _LoRAOnFP8.apply(x, a, b, *(getattr(self, name) for name in FP8_BUFFERS))
    tensors, meta = _state_args(weight.quant_state)
    return _QLoRA.apply(x, a, b, weight, *tensors, meta)


def _state_args(state) -> tuple[tuple, tuple]:
    """A bitsandbytes quant state as ``_dequantize``'s arguments: (absmax, code, absmax2, code2,
    offset), the last three None unless its absmax is itself quantized (nested), and (blocksize,
    nested blocksize or 0, quant type, [out, in] shape)."""
    nested = state.state2 if state.nested else None
    meta = (state.blocksize, nested.blocksize if nested is not None else 0, state.quant_type,
            (int(state.shape[0]), int(state.shape[1])))
    if nested is None:
        return (state.absmax, state.code, None, None, None), meta
    return (state.absmax, state.code, nested.absmax, nested.code, state.offset), meta


def install(model) -> int:
    """Compute ``model``'s eligible LoRA layers on 4-bit weights with ``qlora_linear``.

    Each eligible layer gets its own ``forward`` (an instance attribute, so PEFT's class and
    Unsloth's patch of it stay as they are and remain the fallback). Returns how many layers.
    """
    _UNSLOTH_NF4[0] = hasattr(torch.ops, "unsloth") and hasattr(torch.ops.unsloth, "dequantize_nf4")
    marked = 0
    for module in model.modules():
        if hasattr(module, "lora_A") and hasattr(module, "base_layer") and eligible(module):
            module.forward = types.MethodType(_fused_forward, module)
            marked += 1
    return marked


def fp8_supported(device) -> bool:
    """Whether FP8 matrix products run on ``device``: CUDA GPUs of compute capability 8.9 or
    newer (Ada, Hopper, Blackwell), and the CPU (slowly: for tests)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 9)
    return device.type == "cpu"


def keep_dequantized(model, fp8: bool = False) -> int:
    """Keep the frozen weight of every installed layer dequantized until ``release_dequantized``, so
    the forward and the backward skip the NF4 dequantize (2 bytes a weight, 1 in FP8:
    ``recipe.dequantized_bytes``). In 16 bits the results are unchanged. With ``fp8``
    (``cfg.fp8_frozen``), bf16 layers keep it in e4m3, scaled per output channel, and their frozen
    products run in FP8, at FP8's rounding error; where the GPU has no FP8 products
    (``fp8_supported``), a warning, and 16 bits. Returns how many layers; 0, with a warning and
    nothing kept, when the GPU runs out of memory on the way (training then dequantizes per product)."""
    layers = [module for module in model.modules() if _is_installed(module)]
    if fp8 and layers and not fp8_supported(layers[0].base_layer.weight.device):
        warnings.warn(f"fused_lora.keep_dequantized: {layers[0].base_layer.weight.device} has no FP8 matrix "
                      "products (CUDA compute capability 8.9 or newer); the frozen weights are kept in 16 bits "
                      "instead. Set fp8_frozen=False in the config to silence this.", stacklevel=2)
        fp8 = False
    kept = 0
    try:
        with torch.no_grad():
            for module in layers:
                weight = module.base_layer.weight
                state = weight.quant_state
                tensors, meta = _state_args(state)
                dense = _dequantize(weight, *tensors, *meta, state.dtype)
                if fp8 and state.dtype == torch.bfloat16:
                    wq, ws = rowwise_fp8(dense)
                    del dense
                    for name, value in zip(FP8_BUFFERS, (wq, ws.reshape(1, -1))):
                        module.register_buffer(name, value.contiguous(), persistent=False)
                else:
                    module.register_buffer(DENSE_BUFFER, dense.contiguous(), persistent=False)
                kept += 1
    except torch.OutOfMemoryError as exc:
        release_dequantized(model)
        warnings.warn(f"fused_lora.keep_dequantized: out of memory after {kept} of {len(layers)} layers "
                      f"({str(exc).splitlines()[0]}); none are kept, and the frozen weights are dequantized "
                      "per product instead. Free GPU memory before trainer.train(), or set "
                      "keep_dequantized=False in the config.", stacklevel=2)
        return 0
    return kept


def release_dequantized(model) -> int:
    """Drop the copies ``keep_dequantized`` made. Returns how many layers had one."""
    released = 0
    for module in model.modules():
        buffers = module._buffers
        names = [name for name in (DENSE_BUFFER, *FP8_BUFFERS) if name in buffers]
        for name in names:
            del buffers[name]
        released += bool(names)
    return released


def _is_installed(module) -> bool:
    forward = module.__dict__.get("forward")  # an instance attribute: set by install
    return getattr(forward, "__func__", None) is _fused_forward


def uninstall(model) -> int:
    """Give ``model``'s layers their class's forward back. Returns how many layers."""
    release_dequantized(model)
    layers = [module for module in model.modules() if _is_installed(module)]
    for module in layers:
        del module.forward
    return len(layers)


def installed(model) -> int:
    """How many of ``model``'s layers compute with ``qlora_linear``."""
    return sum(map(_is_installed, model.modules()))


__all__ = ["eligible", "fp8_supported", "install", "installed", "keep_dequantized", "qlora_linear",
           "qlora_linear_fp8", "release_dequantized", "rowwise_fp8", "uninstall"]
