"""Where a profiled training step spends its time: GPU kernel time by kind, and the GPU's idle gaps.

    python benchmarks/trace_summary.py trace.json.gz [--top 25] [--gap-us 20]

Reads a Chrome trace written by ``torch.profiler`` (``bench_train.py --profile`` writes one per
profiled recipe when ``--trace-dir`` is given) and prints:

- kernel time by kind (matrix products, attention, NF4 dequantization, Inductor's fused Triton
  kernels, cross-entropy, optimizer, copies, other), with launch counts;
- the longest kernels by name;
- the GPU's idle time: every gap between kernels longer than ``--gap-us``, summed by the CPU
  operator that launched the kernel ending the gap (what the GPU was waiting for).
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

#: Kernel kinds, first match wins (names as CUDA, cuBLAS, flash-attn, Triton and Inductor give them).
KINDS = [  # attention first: flash-attention's template names mention cutlass too
    ("attention", re.compile(r"flash|fmha|attention", re.I)),
    ("matmul", re.compile(r"nvjet|gemm|cutlass|xmma|cublas|sm90_|splitKreduce", re.I)),
    ("nf4 dequant", re.compile(r"dequant|nf4", re.I)),
    ("cross-entropy", re.compile(r"cross_entropy|logsumexp|softmax", re.I)),
    ("optimizer", re.compile(r"optimizer|adam|kOptimizer|8bit", re.I)),
    ("inductor fused", re.compile(r"^triton_", re.I)),
    ("other triton", re.compile(r"_kernel$|^_", re.I)),
    ("copy", re.compile(r"memcpy|memset|copy|cat|CatArray", re.I)),
    ("aten elementwise", re.compile(r"elementwise|reduce_kernel|vectorized", re.I)),
]
GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset"}


def kind_of(name: str) -> str:
    return next((kind for kind, pattern in KINDS if pattern.search(name)), "other")


def load_events(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    return [e for e in events if e.get("ph") == "X" and "dur" in e]


def summarize(events: list[dict], top: int = 25, gap_us: float = 20.0) -> str:
    gpu = sorted((e for e in events if e.get("cat") in GPU_CATS), key=lambda e: e["ts"])
    if not gpu:
        raise SystemExit("no GPU events in this trace: was it recorded with ProfilerActivity.CUDA?")
    cpu_ops = [e for e in events if e.get("cat") == "cpu_op"]
    # launches: the runtime API (cuBLAS, ATen) and the driver API (Triton kernels)
    runtime = {e["args"].get("correlation"): e for e in events
               if e.get("cat") in ("cuda_runtime", "cuda_driver") and "args" in e}
    lines = []
    start, end = gpu[0]["ts"], max(e["ts"] + e["dur"] for e in gpu)
    busy = sum(e["dur"] for e in gpu)
    lines.append(f"GPU window {(end - start) / 1e3:.1f} ms, kernels {busy / 1e3:.1f} ms "
                 f"({busy / (end - start):.0%}), {len(gpu)} launches")

    by_kind: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    by_name: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for e in gpu:
        for table, key in ((by_kind, kind_of(e["name"])), (by_name, e["name"])):
            table[key][0] += e["dur"]
            table[key][1] += 1
    lines.append("\nkernel time by kind:")
    for kind, (us, n) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"  {kind:<18}{us / 1e3:9.1f} ms {us / busy:6.1%} {n:7d}x")
    lines.append(f"\nlongest {top} kernels by name:")
    for name, (us, n) in sorted(by_name.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"  {us / 1e3:8.1f} ms {n:6d}x  [{kind_of(name)}] {name[:110]}")

    # idle gaps: between the end of all work so far and the next kernel's start
    cpu_ops.sort(key=lambda e: e["ts"])
    starts = [e["ts"] for e in cpu_ops]
    gaps: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    total_gap, frontier = 0.0, gpu[0]["ts"] + gpu[0]["dur"]
    for e in gpu[1:]:
        gap = e["ts"] - frontier
        if gap > gap_us:
            total_gap += gap
            launch = runtime.get(e.get("args", {}).get("correlation"))
            op = innermost_op(cpu_ops, starts, launch) if launch else "(no launch record)"
            gaps[op][0] += gap
            gaps[op][1] += 1
        frontier = max(frontier, e["ts"] + e["dur"])
    lines.append(f"\nGPU idle in gaps over {gap_us:g} us: {total_gap / 1e3:.1f} ms; by the CPU op "
                 "that launched the kernel after the gap:")
    for op, (us, n) in sorted(gaps.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"  {us / 1e3:8.1f} ms {n:6d}x  {op[:110]}")
    return "\n".join(lines)


def innermost_op(cpu_ops: list[dict], starts: list[float], launch: dict) -> str:
    """The innermost CPU operator on the launching thread that encloses a runtime launch call."""
    t, tid = launch["ts"], launch.get("tid")
    best = None
    i = bisect.bisect_right(starts, t) - 1
    # walk back over ops that started earlier; the latest-starting enclosing one is innermost
    for j in range(i, max(-1, i - 5000), -1):
        op = cpu_ops[j]
        if op.get("tid") == tid and op["ts"] <= t <= op["ts"] + op["dur"]:
            best = op
            break
    return best["name"] if best else "(outside any op)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--gap-us", type=float, default=20.0)
    args = parser.parse_args()
    print(summarize(load_events(args.trace), top=args.top, gap_us=args.gap_us))


if __name__ == "__main__":
    main()
