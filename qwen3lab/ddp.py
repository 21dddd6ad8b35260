"""Notebook 05's training, data-parallel: each process of ``torchrun`` (or ``accelerate launch``) runs
the notebook through ``runner.execute`` in a kernel of its own, one model replica per process.

    torchrun --standalone --nproc_per_node 2 tools/train_ddp.py [--keep-rows]   # make train-ddp NPROC=2
    accelerate launch --multi_gpu --num_processes 2 tools/train_ddp.py

Every process runs the runnable cells not tagged ``skip-ddp`` up to the last ``trainer.train(`` call (they
make the same collective calls in the same order); the rest run on rank 0 while the others wait. Three
cells are added (``ddp_cells``): ``join``, ``after_training`` and ``finish``. ``keep_rows`` divides the
recipe's rows per optimizer step over the processes through ``QWEN3LAB_<FIELD>`` variables. The upstream
traps are worked around in ``workarounds.py``. It is what ``make train-ddp`` runs (docs/gpu.md).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from .artifacts import atomic_write_text, library_versions, project_root, stage_dir
from .config import FIELD_ENV_PREFIX, get_config
from .runner import SKIP_TAG, execute, runnable

NOTEBOOK = "05_lora_training.ipynb"
SKIP_DDP = "skip-ddp"
TRAIN_CALL = re.compile(r"\btrainer\.train\(")
PG_TIMEOUT_MIN = 30  # what rank 0's saving may take while the others wait (NCCL's default is 10)
CELL_TIMEOUT_S = 6 * 3600  # a training cell of the full profile may take hours
#: What the kernel-side calls share: the batch the trainer used, the rate.
REPORT: dict[str, Any] = {}


class NotebookShapeError(ValueError):
    """The notebook no longer has the shape this runner relies on (no ``trainer.train(`` cell)."""


# -- which cells run where ------------------------------------------------------------------------

def split_point(nb) -> int:
    """The index of the last cell that runs in every process: the last one that calls ``trainer.train(``."""
    training = [i for i in runnable(nb, (SKIP_TAG, SKIP_DDP)) if TRAIN_CALL.search(nb.cells[i].source)]
    if not training:
        raise NotebookShapeError("no code cell calls trainer.train(: the data-parallel runner splits the notebook "
                                 "after the last one (qwen3lab/ddp.py)")
    return training[-1]


def ddp_cells(nb, rank: int, finish_args: dict[str, Any]):
    """A copy of ``nb`` as process ``rank`` runs it (cells it skips tagged ``skip-execution``, this
    module's three cells added) and each cell's label for messages (``cell 12``, or ``ddp.join``)."""
    import copy

    import nbformat

    nb = copy.deepcopy(nb)
    last, runs = split_point(nb), set(runnable(nb, (SKIP_TAG, SKIP_DDP)))
    labels = [f"cell {i + 1}" for i in range(len(nb.cells))]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (i not in runs or (rank and i > last)):
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), SKIP_TAG]
    call = "import qwen3lab.ddp as _qwen3lab_ddp\n_qwen3lab_ddp.{}"
    added = [(len(nb.cells), call.format(f"finish(globals(), **{finish_args!r})"), "finish"),
             (last + 1, call.format("after_training(globals())"), "after_training"),
             (0, call.format("join(get_ipython())"), "join")]
    for index, source, label in added:  # from the end, so that the indexes stay right
        nb.cells.insert(index, nbformat.v4.new_code_cell(source))
        labels.insert(index, f"ddp.{label}")
    return nb, labels


# -- the batch ------------------------------------------------------------------------------------

def split_rows(per_device: int, accumulation: int, processes: int) -> tuple[int, int]:
    """(per-device batch, accumulation) that keep ``per_device x accumulation`` rows per optimizer step
    over ``processes``: the accumulation is divided, the batch only where that is not enough
    (2 x 4 over 2 processes: 2 x 2; over 8: 1 x 1)."""
    rows = per_device * accumulation
    if rows % processes:
        raise ValueError(f"keep_rows: {rows} rows per optimizer step ({per_device} x {accumulation}) do not "
                         f"split evenly over {processes} processes; use a number of processes that divides "
                         f"{rows}, or train without --keep-rows ({rows * processes} rows per step)")
    share = rows // processes
    batch = max(d for d in range(1, min(per_device, share) + 1) if share % d == 0)
    return batch, share // batch


def effective_batch(per_device: int, processes: int, accumulation: int) -> str:
    """``"2 per device x 2 processes x 2 accumulation = 8 rows per optimizer step"``."""
    return (f"{per_device} per device x {_processes(processes)} x {accumulation} "
            f"accumulation = {per_device * processes * accumulation} rows per optimizer step")


def batch_overrides(cfg, processes: int, keep_rows: bool) -> dict[str, str]:
    """The ``QWEN3LAB_<FIELD>`` variables that make every process's ``cfg`` carry its share of the batch."""
    if not keep_rows or processes == 1:
        return {}
    batch, accumulation = split_rows(cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, processes)
    return {f"{FIELD_ENV_PREFIX}PER_DEVICE_TRAIN_BATCH_SIZE": str(batch),
            f"{FIELD_ENV_PREFIX}GRADIENT_ACCUMULATION_STEPS": str(accumulation)}


def _processes(n: int) -> str:
    return f"{n} process{'es' if n > 1 else ''}"


# -- the process group ------------------------------------------------------------------------------

def world() -> tuple[int, int, int]:
    """(rank, local rank, number of processes) as torchrun and accelerate launch set them."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)), int(env.get("WORLD_SIZE", 1))


def init_distributed() -> str | None:
    """Join the launcher's process group (NCCL on the ``LOCAL_RANK`` GPU, where Unsloth's loader puts
    the model too; gloo on a CPU), which accelerate and the trainer then use. The backend, or None."""
    import torch
    import torch.distributed as dist

    from .workarounds import plain_cpu_device

    _, local_rank, processes = world()
    if processes == 1 or dist.is_initialized():
        return dist.get_backend() if dist.is_initialized() else None
    timeout = _dt.timedelta(minutes=PG_TIMEOUT_MIN)
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl", timeout=timeout, device_id=torch.device("cuda", local_rank))
    else:
        plain_cpu_device()
        dist.init_process_group("gloo", timeout=timeout)
    return dist.get_backend()


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def _all_reduce(values: list[float], op: str) -> list[float]:
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        return values
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=getattr(dist.ReduceOp, op))
    return tensor.tolist()


def batch_report():
    """A ``TrainerCallback`` that prints (rank 0) and keeps in ``REPORT`` the batch the trainer really
    uses when training starts, after ``fast.speed_up`` and Unsloth have had their say."""
    from transformers import TrainerCallback

    class BatchReport(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            batch, n = args.per_device_train_batch_size, args.world_size
            accumulation = args.gradient_accumulation_steps
            values = {"per_device_train_batch_size": batch, "processes": n,
                      "gradient_accumulation_steps": accumulation, "rows_per_step": batch * n * accumulation}
            if REPORT.get("batch") != values and state.is_world_process_zero:
                print("effective batch:", effective_batch(batch, n, accumulation))
            REPORT["batch"] = values

    return BatchReport()


def global_rate(meter, skip: int) -> dict[str, float]:
    """Trained tokens per second of all processes together, after the first ``skip`` steps: each
    ``q.StepMeter``'s counts summed, over the longest process's time. Every process must call it."""
    steps = meter.steps[skip:]
    trained, tokens = sum(s["trained"] for s in steps), sum(s["tokens"] for s in steps)
    seconds = sum(s["s"] for s in steps)
    trained, tokens = _all_reduce([trained, tokens], "SUM")
    (seconds,) = _all_reduce([seconds], "MAX")
    return {"steps": len(steps), "seconds": seconds, "trained_tokens": trained,
            "trained_tokens_per_s": trained / seconds if seconds else 0.0,
            "tokens_per_s": tokens / seconds if seconds else 0.0}


# -- the three cells, in each process's kernel --------------------------------------------------------

def join(shell) -> None:
    """Before the notebook's cells: join the process group; rank 0 alone checks the machine and builds
    the tiny model if it is missing (two processes would replace it under each other); each new
    ``trainer`` gets the workarounds and the batch report (an IPython hook after every cell)."""
    from .machine import bootstrap
    from .model import model_name_or_path
    from .workarounds import checkpoint_barrier, rewrap_before_each_train

    bootstrap()  # what the notebook's first cell (q.setup()) does, before anything imports transformers
    REPORT.update(backend=init_distributed(), started=time.perf_counter())
    if world()[0] == 0:
        model_name_or_path(get_config())
    barrier()
    seen: set[int] = set()

    def hook(*_):
        trainer = shell.user_ns.get("trainer")
        if trainer is None or id(trainer) in seen or not hasattr(trainer, "add_callback"):
            return
        seen.add(id(trainer))
        rewrap_before_each_train(trainer)
        trainer.add_callback(checkpoint_barrier())
        trainer.add_callback(batch_report())

    shell.events.register("post_run_cell", hook)


def after_training(ns: dict) -> None:
    """After the last training cell, in every process: the tokens per second of them all."""
    meter = ns.get("meter")
    if meter is not None and getattr(meter, "steps", None):
        REPORT["rate"] = global_rate(meter, skip=min(3, len(meter.steps) - 1))
        if world()[0] == 0:
            print(f"all {_processes(world()[2])}: {REPORT['rate']['trained_tokens_per_s']:,.0f} trained tokens/s "
                  "after the first 3 steps")


def _logged(log_history: list[dict], key: str) -> list[list[float]]:
    return [[entry["step"], float(entry[key])] for entry in log_history if key in entry and "step" in entry]


def finish(ns: dict, *, summary: str | None, keep_rows: bool) -> None:
    """At the end: rank 0 writes the run's summary (``ddp_summary.json``) while the others wait."""
    if world()[0] == 0:
        import torch

        trainer, meter, cfg = ns.get("trainer"), ns.get("meter"), get_config()
        history = trainer.state.log_history if trainer is not None else []
        result = {"processes": world()[2], "backend": REPORT.get("backend"), "keep_rows": keep_rows,
                  "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                  **REPORT.get("batch", {}), "max_steps": cfg.max_steps, "profile": cfg.profile,
                  "losses": _logged(history, "loss"), "grad_norms": _logged(history, "grad_norm"),
                  "all_processes": REPORT.get("rate", {}),
                  "rank_0": meter.summary(skip=min(3, len(meter.steps) - 1)) if meter is not None and meter.steps else {},
                  "wall_s": round(time.perf_counter() - REPORT["started"], 1), "adapter": str(stage_dir("adapter")),
                  "versions": library_versions(),
                  "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        path = Path(summary) if summary else stage_dir("run") / "ddp_summary.json"
        atomic_write_text(path, json.dumps(result, indent=2) + "\n")
        print(f"summary: {path}")
    barrier()


# -- the launcher's process -----------------------------------------------------------------------------

def run(notebook: Path, *, keep_rows: bool = False, summary: Path | None = None) -> bool:
    """Execute ``notebook`` as this process of a data-parallel run; True when every cell passed.
    Rank 0 prints the outputs as they come; every rank prints a failing cell's error."""
    import nbformat

    rank, _, processes = world()
    source_cfg = get_config()
    overrides = batch_overrides(source_cfg, processes, keep_rows)
    if rank:
        overrides[f"{FIELD_ENV_PREFIX}REPORT_TO"] = '"none"'  # one SwanLab run, rank 0's (TOML: a bare none is None)
    os.environ.update(overrides)  # the kernel inherits them
    cfg = get_config()
    nb, labels = ddp_cells(nbformat.read(notebook, as_version=4), rank,
                           {"summary": str(summary) if summary else None, "keep_rows": keep_rows})
    if rank == 0:
        cells = [i for i in runnable(nb) if labels[i].startswith("cell ")]
        everywhere = sum(i < labels.index("ddp.after_training") for i in cells)
        print(f"data parallel: {_processes(processes)}, {len(cells)} cells of {notebook.name}: {everywhere} in every "
              f"process, the last {len(cells) - everywhere} on rank 0 alone")
        rows = source_cfg.per_device_train_batch_size * source_cfg.gradient_accumulation_steps
        planned = effective_batch(cfg.per_device_train_batch_size, processes, cfg.gradient_accumulation_steps)
        print(f"planned batch: {planned} (the recipe's: {rows} rows per step{', kept' if keep_rows else ''})")
    echo = (lambda text: print(text, end="", flush=True)) if rank == 0 else None
    _, index, exc, _ = execute(notebook, CELL_TIMEOUT_S, nb=nb, echo=echo)
    if exc is not None:
        where = labels[index] if index is not None else "the kernel's start"
        print(f"[rank {rank}] {notebook.name} failed in {where}:\n{exc}", file=sys.stderr, flush=True)
    return exc is None


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="train_ddp.py", description="Notebook 05's training, data-parallel: run under "
        "`torchrun --standalone --nproc_per_node N tools/train_ddp.py` or `accelerate launch --num_processes N "
        "tools/train_ddp.py` (make train-ddp NPROC=N). The config comes as for the notebooks: QWEN3LAB_PROFILE, "
        "QWEN3LAB_CONFIG, QWEN3LAB_<FIELD>, QWEN3LAB_HOME.")
    root = project_root() or Path.cwd()
    cli.add_argument("--notebook", type=Path, default=root / "notebooks" / NOTEBOOK,
                     help=f"the training notebook whose cells run (default: notebooks/{NOTEBOOK})")
    cli.add_argument("--keep-rows", action="store_true",
                     help="keep the recipe's rows per optimizer step (8 for 2 x 4): divide the accumulation by the "
                          "number of processes; default: every process runs the recipe, N times the rows per step")
    cli.add_argument("--summary", type=Path, metavar="FILE",
                     help="where rank 0 writes the run's summary JSON "
                          "(default: <artifacts>/runs/lora/ddp_summary.json)")
    return cli


def main(argv: list[str] | None = None) -> int:
    """``tools/train_ddp.py``: 0 when every cell passed in this process."""
    args = parser().parse_args(argv)
    try:
        passed = run(args.notebook.resolve(), keep_rows=args.keep_rows,
                     summary=args.summary.resolve() if args.summary else None)
    except Exception as exc:  # a bad option, config or notebook: before any cell ran
        print(f"train_ddp.py (rank {world()[0]}): error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0 if passed else 1


__all__ = ["NotebookShapeError", "batch_overrides", "ddp_cells", "effective_batch", "global_rate", "run",
           "split_point", "split_rows"]
