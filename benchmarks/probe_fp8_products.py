"""FP8 against bf16 for one fused LoRA layer's products, at the Qwen3-8B projection shapes (CUDA).

    python benchmarks/probe_fp8_products.py [--tokens 7663] [--reps 20]

For each projection shape, the GPU time of one ``fused_lora`` layer's forward and backward
operators with T token rows: in bf16 (``qlora_linear``, the weight kept dequantized) and in FP8
(``qlora_linear_fp8``, the weight kept in e4m3, with the input's and the gradient's rows scaled to
e4m3 by ``rowwise_fp8`` compiled, as in training). Also how far FP8's outputs are from bf16's.
The frozen products are 4·T·in·out FLOPs of the eight products; the LoRA ones are counted out.
A second table times the frozen products alone (forward and dX) in each of torch's FP8 modes:
rowwise scales (CUTLASS) and tensorwise (cuBLAS), each with and without fast accumulation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from probe_cublas_shapes import RANK, SHAPES  # noqa: E402  (Qwen3-8B's projection shapes)
from qwen3lab.fast import fused_lora  # noqa: E402


def gpu_ms(fn, reps: int) -> float:
    """Median GPU time of ``fn`` over ``reps`` calls, after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=7663)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    quantize = torch.compile(fused_lora.rowwise_fp8)
    ops = torch.ops.qwen3lab
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, T = {args.tokens} rows, r = {RANK}")
    print(f"{'shape':<9}{'bf16 ms':>9}{'fp8 ms':>9}{'of it scaling':>15}{'bf16 TF/s':>11}{'fp8 TF/s':>10}"
          f"{'rel. err y':>12}{'rel. err dX':>13}")
    total = [0.0, 0.0]
    for name, (k, n) in SHAPES.items():
        x = torch.randn(args.tokens, k, device="cuda", dtype=torch.bfloat16)
        grad = torch.randn(args.tokens, n, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) / k**0.5
        a = torch.randn(RANK, k, device="cuda", dtype=torch.bfloat16) / k**0.5
        b = torch.randn(n, RANK, device="cuda", dtype=torch.bfloat16) * 0.01
        wq, ws = fused_lora.rowwise_fp8(w)
        wtq, wts = fused_lora.rowwise_fp8(w.t())
        ws, wts, wtq = ws.reshape(1, -1), wts.reshape(1, -1), wtq.contiguous()

        def bf16():
            y, xa = ops.qlora_linear(x, w, a, b)
            return y, ops.qlora_linear_backward(grad, x, xa, w, a, b)[0]

        def fp8():
            xq, xs = quantize(x)
            y, xa = ops.qlora_linear_fp8(x, xq, xs, wq, ws, a, b)
            gq, gs = quantize(grad)
            return y, ops.qlora_linear_fp8_backward(grad, gq, gs, x, xa, wtq, wts, a, b)[0]

        def scaling():
            quantize(x)
            quantize(grad)

        t16, t8, ts = gpu_ms(bf16, args.reps), gpu_ms(fp8, args.reps), gpu_ms(scaling, args.reps)
        (y16, dx16), (y8, dx8) = bf16(), fp8()
        err = [float((p.float() - q.float()).norm() / q.float().norm()) for p, q in ((y8, y16), (dx8, dx16))]
        flops = 4 * args.tokens * k * n
        projections = len(name.split("/"))  # of one decoder layer with this shape
        total[0] += t16 * projections
        total[1] += t8 * projections
        print(f"{name:<9}{t16:>9.3f}{t8:>9.3f}{ts:>15.3f}{flops / t16 / 1e9:>11.0f}{flops / t8 / 1e9:>10.0f}"
              f"{err[0]:>12.4f}{err[1]:>13.4f}")
    print(f"one decoder layer's seven projections: bf16 {total[0]:.2f} ms, fp8 {total[1]:.2f} ms "
          f"({total[0] / total[1]:.2f}x); x 36 layers: {36 * total[0]:.0f} vs {36 * total[1]:.0f} ms")
    raw_products(args.tokens, args.reps)


def raw_products(tokens: int, reps: int) -> None:
    """TFLOP/s of the frozen forward product [T, in]x[in, out] and the dX product [T, out]x[out, in]."""
    modes = ("bf16", "row", "row fast", "tensor", "tensor fast")
    print(f"\nfrozen products alone, TFLOP/s (T = {tokens})")
    print(f"{'shape':<9}{'product':<9}" + "".join(f"{m:>13}" for m in modes))
    one = torch.ones((), device="cuda")
    for name, (k, n) in SHAPES.items():
        for product, (inner, outer) in (("forward", (k, n)), ("dX", (n, k))):
            x = torch.randn(tokens, inner, device="cuda", dtype=torch.bfloat16)
            w = torch.randn(outer, inner, device="cuda", dtype=torch.bfloat16) / inner**0.5
            xq, xs = fused_lora.rowwise_fp8(x)
            wq, ws = fused_lora.rowwise_fp8(w)
            ws = ws.reshape(1, -1)
            calls = {
                "bf16": lambda: x @ w.t(),
                "row": lambda: torch._scaled_mm(xq, wq.t(), scale_a=xs, scale_b=ws, out_dtype=torch.bfloat16),
                "row fast": lambda: torch._scaled_mm(xq, wq.t(), scale_a=xs, scale_b=ws, out_dtype=torch.bfloat16,
                                                     use_fast_accum=True),
                "tensor": lambda: torch._scaled_mm(xq, wq.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16),
                "tensor fast": lambda: torch._scaled_mm(xq, wq.t(), scale_a=one, scale_b=one,
                                                        out_dtype=torch.bfloat16, use_fast_accum=True),
            }
            flops = 2 * tokens * inner * outer
            cells = []
            for mode in modes:
                try:
                    cells.append(f"{flops / gpu_ms(calls[mode], reps) / 1e9:>13.0f}")
                except RuntimeError as exc:
                    cells.append(f"{'error':>13}")
                    print(f"  {mode}: {str(exc).splitlines()[0][:120]}")
            print(f"{name:<9}{product:<9}" + "".join(cells))


if __name__ == "__main__":
    main()
