"""Varlen causal attention of one training step, as torch runs it: FA2 against cuDNN (CUDA).

    python benchmarks/probe_varlen_attention.py

The shape of the profiled 2048 step in docs/benchmarks.md: 7,663 tokens in 8 sequences (2,048
the longest), Qwen3-8B's 32 query and 8 key/value heads of 128, bf16. Times 36 calls (one per
layer) of torch's flash attention (FA2, what Unsloth's padding-free path calls), forward and
forward + backward, and the same attention through cuDNN: the aten operator with sequence offsets,
and SDPA on nested (jagged) tensors with the cuDNN and the flash backend, each checked against FA2's
output. A backend that fails prints its error instead of a time.
"""

from __future__ import annotations

import traceback

import torch
import torch.nn.functional as F

LENGTHS = [2048, 1500, 1200, 900, 800, 600, 400, 215]
HEADS, KV_HEADS, HEAD_DIM, LAYERS = 32, 8, 128, 36


def gpu_ms(fn, n: int = LAYERS) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(n):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end)


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("this probe needs a CUDA GPU")
    from torch.nn.attention import SDPBackend, sdpa_kernel

    device, dtype = "cuda", torch.bfloat16
    total, longest = sum(LENGTHS), max(LENGTHS)
    cu = torch.tensor([0] + torch.tensor(LENGTHS).cumsum(0).tolist(), device=device, dtype=torch.int32)
    torch.manual_seed(0)
    q = torch.randn(total, HEADS, HEAD_DIM, device=device, dtype=dtype)
    k = torch.randn(total, KV_HEADS, HEAD_DIM, device=device, dtype=dtype)
    v = torch.randn(total, KV_HEADS, HEAD_DIM, device=device, dtype=dtype)
    grad = torch.randn(total, HEADS, HEAD_DIM, device=device, dtype=dtype)
    scale = HEAD_DIM ** -0.5
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {total} tokens, {len(LENGTHS)} sequences")

    def fa2_forward():
        return torch.ops.aten._flash_attention_forward(q, k, v, cu, cu, longest, longest, 0.0, True, False, scale=scale)

    def fa2_both():
        out, lse, rng, unused, _ = fa2_forward()
        torch.ops.aten._flash_attention_backward(grad, q, k, v, out, lse, cu, cu, longest, longest, 0.0, True, rng,
                                                 unused, scale=scale)

    reference = fa2_forward()[0].float()
    print(f"FA2 (aten, GQA): forward x{LAYERS} {gpu_ms(fa2_forward):.1f} ms, forward + backward {gpu_ms(fa2_both):.1f} ms")

    # nested (jagged) tensors have no GQA: key/value heads repeated
    offsets = cu.long()
    k_full, v_full = k.repeat_interleave(HEADS // KV_HEADS, dim=1), v.repeat_interleave(HEADS // KV_HEADS, dim=1)

    def nested(t):
        return torch.nested.nested_tensor_from_jagged(t.detach().clone().requires_grad_(), offsets).transpose(1, 2)

    for backend in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION):
        try:
            qn, kn, vn = nested(q), nested(k_full), nested(v_full)

            def forward():
                with sdpa_kernel(backend):
                    return F.scaled_dot_product_attention(qn, kn, vn, is_causal=True, scale=scale)

            def both():
                forward().transpose(1, 2).values().backward(grad)

            error = (forward().transpose(1, 2).values().float() - reference).abs().max().item()
            print(f"SDPA nested {backend.name}: max error {error:.4f}; forward x{LAYERS} {gpu_ms(forward):.1f} ms, "
                  f"forward + backward {gpu_ms(both):.1f} ms")
        except Exception as exc:  # a backend torch cannot run for these inputs
            print(f"SDPA nested {backend.name}: {type(exc).__name__}: {str(exc)[:300]}")

    for name, kk, vv in (("GQA", k, v), ("heads repeated", k_full, v_full)):
        def cudnn_forward():
            return torch.ops.aten._cudnn_attention_forward(q, kk, vv, None, cu, cu, longest, longest, True, 0.0, True,
                                                           False, scale=scale)
        try:
            error = (cudnn_forward()[0].float() - reference).abs().max().item()
            print(f"cuDNN (aten, {name}): max error {error:.4f}; forward x{LAYERS} {gpu_ms(cudnn_forward):.1f} ms")
        except Exception:
            print(f"cuDNN (aten, {name}):", traceback.format_exc()[-400:])


if __name__ == "__main__":
    main()
