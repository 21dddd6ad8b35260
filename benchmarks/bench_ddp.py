"""Trained tokens per second of notebook 05's training on 1 and on N GPUs (issue 20), and the scaling
efficiency: ``make bench-ddp PROFILE=full NPROC=2`` on a machine with N CUDA GPUs.

Each point is one ``torchrun --standalone --nproc_per_node n tools/train_ddp.py`` run, that is the
notebook's own cells (``qwen3lab/ddp.py``), with the same recipe on every GPU (the profile's batch
and accumulation per process, so a step of n processes takes n times the rows), and, with
``--keep-rows``, also the n-GPU run that keeps the recipe's rows per step. The rate is what every
process's ``q.StepMeter`` counted, summed over the processes, over the steps after the first 3
(compiling and warm-up), divided by the slowest process's time; efficiency =
rate(n) / (n x rate(1)). Notebooks 00 to 04 must have run first under the same ``QWEN3LAB_HOME``
and profile (the tiny model or the cached 8B, and the mixed data set). Figures go to
docs/benchmarks.md with the card, the versions, the date and this command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "train_ddp.py"


def run_point(processes: int, keep_rows: bool, summary: Path, timeout: int) -> dict:
    """One data-parallel run of notebook 05's training; its summary (``qwen3lab.ddp.run``)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               str(TOOL), "--summary", str(summary)] + (["--keep-rows"] if keep_rows else [])
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True, timeout=timeout)
    return json.loads(summary.read_text())


def row(point: dict, base: dict | None) -> dict:
    """The table's row for one run: batch, rates, efficiency against the one-GPU run."""
    rate = point["all_processes"]["trained_tokens_per_s"]
    n = point["processes"]
    efficiency = rate / (n * base["all_processes"]["trained_tokens_per_s"]) if base else None
    return {"processes": n, "keep_rows": point["keep_rows"], "rows_per_step": point["rows_per_step"],
            "batch": f"{point['per_device_train_batch_size']} x {n} x {point['gradient_accumulation_steps']}",
            "trained_tokens_per_s": round(rate), "per_gpu": round(rate / n),
            "efficiency": None if efficiency is None else round(efficiency, 3),
            "steps_measured": point["all_processes"]["steps"], "wall_s": point["wall_s"],
            "final_loss": point["losses"][-1][1] if point["losses"] else None}


def table(rows: list[dict]) -> str:
    lines = ["| GPUs | rows per step | batch (per GPU x GPUs x accumulation) | trained tokens/s | per GPU | "
             "efficiency | wall (s) |", "|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        eff = "-" if r["efficiency"] is None else f"{r['efficiency']:.0%}"
        lines.append(f"| {r['processes']} | {r['rows_per_step']} | {r['batch']} | {r['trained_tokens_per_s']:,} | "
                     f"{r['per_gpu']:,} | {eff} | {r['wall_s']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--nproc", default="1,2", help="comma-separated process counts, 1 first (default 1,2)")
    cli.add_argument("--keep-rows", action="store_true", help="also run each n > 1 with the recipe's rows per step")
    cli.add_argument("--out", type=Path, default=Path("bench-ddp.json"))
    cli.add_argument("--timeout", type=int, default=3600, help="seconds per run")
    args = cli.parse_args(argv)
    counts = [int(n) for n in args.nproc.split(",")]
    if counts[0] != 1:
        raise SystemExit("--nproc must start with 1: the efficiency is measured against one GPU")
    os.environ.setdefault("QWEN3LAB_PROFILE", "full")
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            for keep in ([False, True] if args.keep_rows and n > 1 else [False]):
                points.append(run_point(n, keep, Path(tmp) / f"ddp-{n}{'-keep' if keep else ''}.json", args.timeout))
    rows = [row(p, points[0] if i else None) for i, p in enumerate(points)]
    args.out.write_text(json.dumps({"rows": rows, "runs": points}, indent=2) + "\n")
    print(table(rows))
    print(f"device: {points[0]['device']}; profile {points[0]['profile']}; written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
