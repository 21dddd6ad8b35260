"""Host time cuBLAS spends choosing kernels for a token count it has not seen (CUDA).

    python benchmarks/probe_cublas_shapes.py [--counts 24] [--multiple 128] [--cublaslt]
    CUDA_MODULE_LOADING=EAGER python benchmarks/probe_cublas_shapes.py   # kernels loaded up front

A padding-free step has a new token count T almost every time, so each matrix product of a step
has a shape cuBLAS has not chosen a kernel for yet. For each of the Qwen3-8B projection shapes,
this times one ``fused_lora`` layer, forward and backward operator (eight products), with T rows:
on the host, from the call to its return, the first time T is seen and again right after. The
difference is the kernel choice; on the H100 of docs/benchmarks.md it was what the GPU waited for
at the start of each step. ``--multiple`` rounds every T up to a multiple (as padding would);
``--cublaslt`` routes torch's products through cuBLASLt.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from qwen3lab.fast import fused_lora  # noqa: E402,F401  (registers torch.ops.qwen3lab)
from qwen3lab.tiny import QWEN3_8B  # noqa: E402
from qwen3lab.model import projection_shapes  # noqa: E402


def shared_shapes(model_config) -> dict[str, tuple[int, int]]:
    """(in_features, out_features) of the projections, one entry per shape: {"q/o": (4096, 4096), ...}."""
    names: dict[tuple[int, int], list[str]] = {}
    for name, shape in projection_shapes(model_config).items():
        names.setdefault(shape, []).append(name.removesuffix("_proj"))
    return {"/".join(group): shape for shape, group in names.items()}


#: Qwen3-8B's projection shapes (q/o, k/v, gate/up, down); LoRA rank of the benchmarks
SHAPES = shared_shapes(QWEN3_8B)
RANK = 32


def layer_host_ms(x, grad, w, a, b) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    _, xa = torch.ops.qwen3lab.qlora_linear(x, w, a, b)
    torch.ops.qwen3lab.qlora_linear_backward(grad, x, xa, w, a, b)
    elapsed = time.perf_counter() - start
    torch.cuda.synchronize()
    return elapsed * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, default=24, help="how many random token counts (3,000 to 11,000)")
    parser.add_argument("--multiple", type=int, default=0, help="round each count up to a multiple of this")
    parser.add_argument("--cublaslt", action="store_true", help="torch's products through cuBLASLt")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this probe needs a CUDA GPU")
    if args.cublaslt:
        torch.backends.cuda.preferred_blas_library("cublaslt")
    dtype, device = torch.bfloat16, "cuda"
    weights = {name: (torch.randn(o, i, device=device, dtype=dtype) * 0.02,
                      torch.randn(RANK, i, device=device, dtype=dtype) * 0.02,
                      torch.randn(o, RANK, device=device, dtype=dtype) * 0.02) for name, (i, o) in SHAPES.items()}
    rng = random.Random(0)
    counts = [rng.randrange(3000, 11000) for _ in range(args.counts)]
    if args.multiple:
        counts = [-(-t // args.multiple) * args.multiple for t in counts]
    first = {name: [] for name in SHAPES}
    repeat = {name: [] for name in SHAPES}
    for t in counts:
        for name, (i, o) in SHAPES.items():
            x = torch.randn(t, i, device=device, dtype=dtype)
            grad = torch.randn(t, o, device=device, dtype=dtype)
            first[name].append(layer_host_ms(x, grad, *weights[name]))
            repeat[name].append(layer_host_ms(x, grad, *weights[name]))
    tag = f"multiple {args.multiple or 1}" + (", cuBLASLt" if args.cublaslt else "")
    print(f"{tag}: host ms of one layer's forward + backward ({len(counts)} token counts)")
    for name in SHAPES:
        f, r = first[name], repeat[name]
        print(f"  {name:8s} new count: median {statistics.median(f):6.2f}, max {max(f):7.2f}, "
              f"sum after the first {sum(f[1:]):7.1f} | repeated: median {statistics.median(r):5.2f}")


if __name__ == "__main__":
    main()
