"""A LoRA layer on a 4-bit weight with the LoRA sum inside the frozen product, not after it.

PEFT computes a LoRA layer on a bitsandbytes ``Linear4bit`` as ``base(x) + B(A(x)) * scaling``.
Compiled by torch.compile (Unsloth's per-layer regions under ``FastModel``), the sum becomes an
out-of-place ``addmm(base, xA, B^T)``, and ATen's out-of-place ``addmm`` first copies ``base`` into
its output: on an H100 at max_seq_length 2048, 252 device-to-device copies (13.6 ms of a 0.55 s
step), before a rank-r product that reads and writes the whole output once more.

``qlora_linear`` and ``qlora_linear_backward`` are operators that torch.compile leaves opaque, so
their in-place products stay in place (with ``xa = x·A^T`` and ``B' = scaling·B``):

    forward    out = xa·B'^T;  out += x·W^T          cuBLAS adds ``out`` in its epilogue
    backward   dX = (dY·B')·A;  dX += dY·W;  dA = (dY·B')^T·x;  dB' = dY^T·xa

The NF4 dequantize of ``W`` and the casts of LoRA's float32 weights stay in the compiled graph,
which launches them as cheaply as its own kernels (the first version launched them from inside
the operator, and the host time that cost outweighed the copies saved). ``W`` is dequantized again
for the backward, as bitsandbytes does, so no 16-bit copy of a frozen weight outlives its product,
unless ``keep_dequantized`` is asked to keep one per layer for the whole of training (where the card
has the memory: ``recipe.fit_recipe`` decides, ``make_trainer`` keeps and releases them).
``install`` gives each eligible layer this forward (one vanilla LoRA adapter, no dropout, no bias);
any other call, and every call without gradients (generation), takes the layer's own forward.

Measured on an H100 with the Qwen3-8B shape (docs/benchmarks.md): 2.5% more trained tokens per
second at max_seq_length 2048 (5% less kernel time), the same loss within 0.02%; keeping the
weights dequantized, 2.2% more again (the forward no longer waits on the host's launches).
Introduced in 05_lora_training (``cfg.fused_lora``; the full profile turns it on).
"""

import types
import warnings
from typing import Optional

import torch
from torch import Tensor

def _dequantize(weight: Tensor, absmax: Tensor, code: Tensor, absmax2: Optional[Tensor], code2: Optional[Tensor],
                offset: Optional[Tensor], blocksize: int, blocksize2: int, quant_type: str,
                shape: tuple[int, int], dtype: torch.dtype) -> Tensor:
    """The ``[out, in]`` weight in ``dtype``. Where Unsloth registered its NF4 dequantize as a Triton
    operator (CUDA), that operator, which torch.compile schedules and launches like its own
    kernels; elsewhere bitsandbytes' dequantize."""
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


@torch.library.custom_op("qwen3lab::qlora_linear", mutates_args=())
def qlora_linear(x: Tensor, w: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """``(x·w^T + (x·a^T)·b^T, x·a^T)`` with the sum in the frozen product's epilogue, for the
    dequantized frozen weight ``w`` ``[out, in]``, LoRA's ``a`` ``[r, in]`` and ``b`` ``[out, r]``
    (scaling folded into ``b``); the second output is kept for the backward. One dtype throughout."""
    x2 = x.reshape(-1, x.shape[-1])
    xa = x2 @ a.t()
    out = xa @ b.t()
    out.addmm_(x2, w.t())  # in place: cuBLAS reads the LoRA term in the epilogue, no copy
    return out.view(*x.shape[:-1], w.shape[0]), xa.view(*x.shape[:-1], a.shape[0])


@qlora_linear.register_fake
def _(x, w, a, b):
    return x.new_empty((*x.shape[:-1], w.shape[0])), x.new_empty((*x.shape[:-1], a.shape[0]))


@torch.library.custom_op("qwen3lab::qlora_linear_backward", mutates_args=())
def qlora_linear_backward(grad: Tensor, x: Tensor, xa: Tensor, w: Tensor, a: Tensor,
                          b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(dX, da, db)`` of ``qlora_linear``; ``dX`` is empty when ``w`` is (no input gradient needed)."""
    g = grad.reshape(-1, grad.shape[-1])
    x2, xa2 = x.reshape(-1, x.shape[-1]), xa.reshape(-1, xa.shape[-1])
    d_xa = g @ b  # [rows, r]
    grad_b = g.t() @ xa2
    grad_a = d_xa.t() @ x2
    if w.numel() == 0:
        return x.new_empty(0), grad_a, grad_b
    dx = d_xa @ a
    dx.addmm_(g, w)  # dY·w + (dY·b)·a in one epilogue
    return dx.view(x.shape), grad_a, grad_b


@qlora_linear_backward.register_fake
def _(grad, x, xa, w, a, b):
    dx = x.new_empty(x.shape) if w.numel() else x.new_empty(0)
    return dx, a.new_empty(a.shape), b.new_empty(b.shape)


class _QLoRA(torch.autograd.Function):
    """``qlora_linear`` with its dequantize on both sides: the forward dequantizes ``W`` for the
    frozen product and the backward again for ``dX`` (only when ``x`` needs a gradient), so no
    16-bit copy of a frozen weight is kept between them (about 15 GB for all of Qwen3-8B's)."""

    @staticmethod
    def forward(ctx, x, a, b, weight, absmax, code, absmax2, code2, offset, meta):
        blocksize, blocksize2, quant_type, shape = meta
        w = _dequantize(weight, absmax, code, absmax2, code2, offset, blocksize, blocksize2, quant_type,
                        shape, x.dtype)
        out, xa = qlora_linear(x, w, a, b)
        ctx.save_for_backward(x, xa, a, b, weight, absmax, code, absmax2, code2, offset)
        ctx.meta = meta
        return out

    @staticmethod
    def backward(ctx, grad):
        x, xa, a, b, weight, absmax, code, absmax2, code2, offset = ctx.saved_tensors
        blocksize, blocksize2, quant_type, shape = ctx.meta
        if ctx.needs_input_grad[0]:
            w = _dequantize(weight, absmax, code, absmax2, code2, offset, blocksize, blocksize2, quant_type,
                            shape, x.dtype)
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


# -- PEFT's LoRA Linear4bit ---------------------------------------------------------------------

#: The non-persistent buffer in which ``keep_dequantized`` keeps a layer's frozen weight in 16 bits.
DENSE_BUFFER = "qwen3lab_dense_weight"


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
    state = weight.quant_state
    name = self.active_adapters[0]
    # LoRA's float32 weights cast (and B scaled) where the compiler fuses it; autograd takes the
    # gradients back through the cast to float32
    a = self.lora_A[name].weight.to(x.dtype)
    b = (self.lora_B[name].weight * self.scaling[name]).to(x.dtype)
    dense = getattr(self, DENSE_BUFFER, None)
    if dense is not None and dense.dtype == x.dtype:
        return _LoRAOnDense.apply(x, a, b, dense)
    return _QLoRA.apply(x, a, b, weight, *_state_tensors(state), _state_meta(state))


def _state_tensors(state) -> tuple:
    """(absmax, code, absmax2, code2, offset) of a bitsandbytes quant state; the last three are
    None unless its absmax is itself quantized (nested)."""
    nested = state.state2 if state.nested else None
    if nested is None:
        return state.absmax, state.code, None, None, None
    return state.absmax, state.code, nested.absmax, nested.code, state.offset


def _state_meta(state) -> tuple:
    """(blocksize, nested blocksize or 0, quant type, [out, in] shape) of a bitsandbytes quant state."""
    nested = state.state2 if state.nested else None
    return (state.blocksize, nested.blocksize if nested is not None else 0, state.quant_type,
            (int(state.shape[0]), int(state.shape[1])))


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


def keep_dequantized(model) -> int:
    """Keep the frozen weight of every installed layer dequantized, in its compute dtype, for as
    long as training runs: the forward and the backward then skip the NF4 dequantize (two per layer
    and step) and its launches. Costs 2 bytes per frozen weight (``recipe.dequantized_bytes``) until
    ``release_dequantized``; the values are the ones the dequantize computes each time, so the
    results are unchanged. Returns how many layers; 0, with a warning and nothing kept, when the
    GPU runs out of memory on the way (training then dequantizes per product, as without)."""
    layers = [module for module in model.modules() if _is_installed(module)]
    kept = 0
    try:
        with torch.no_grad():
            for module in layers:
                weight = module.base_layer.weight
                state = weight.quant_state
                dense = _dequantize(weight, *_state_tensors(state), *_state_meta(state), state.dtype)
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
    """Drop the 16-bit copies ``keep_dequantized`` made. Returns how many layers had one."""
    released = 0
    for module in model.modules():
        if DENSE_BUFFER in getattr(module, "_buffers", {}):
            del module._buffers[DENSE_BUFFER]
            released += 1
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
    return sum(1 for module in model.modules() if _is_installed(module))


__all__ = ["eligible", "install", "installed", "keep_dequantized", "qlora_linear", "release_dequantized",
           "uninstall"]
